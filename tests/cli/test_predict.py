"""``run_search.py predict`` with a real (untrained, tiny) flow on the embedded backbone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from cli.main import main
from ssflow_runtime.predict_outputs import overlay_names
from ssflow.model.backbone import configured_backbone
from ssflow_runtime.calibration import Calibration
from ssflow_runtime.images import decode, to_rgb
from ssflow.settings.flat_config import config_from_flat
from ssflow.model.flow import MultiScaleFlow
from ssflow.deployment.model_files import open_model
from ssflow.deployment.model_io import load_model, save_model
from ssflow_runtime.image_files import find_images
from ssflow_runtime.scoring import score_images

SIZE = 64
CPU = torch.device("cpu")
NAMES = ["a.png", "b.bmp", "c.JPG", "d.tif", "e.png"]


def write_image(path: Path, seed: int) -> Path:
    """A noisy 40x48 image; every second one carries a bright square (a crude defect)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(90, 140, (40, 48, 3), dtype=np.uint8)
    if seed % 2:
        pixels[10:22, 14:30] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 5 images, a non-image file and a subfolder with one more image."""
    folder = tmp_path_factory.mktemp("images")
    for seed, name in enumerate(NAMES):
        write_image(folder / name, seed)
    (folder / "notes.txt").write_text("not an image")
    write_image(folder / "deeper" / "f.png", 7)
    return folder


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory, images: Path) -> Path:
    """A model.pt whose threshold is the median score of the images, so both decisions occur."""
    config = config_from_flat({"backbone.image_size": SIZE, "flow.coupling_blocks": 1,
                               "flow.hidden_channels": 8, "map.smoothing_sigma": 1.0})
    backbone = configured_backbone(config, CPU)
    flow = MultiScaleFlow(backbone.channels, config.flow, seed=0).eval()
    path = tmp_path_factory.mktemp("model") / "model.pt"
    save_model(path, config, flow, Calibration(0.0, 0.0, 1.0, 0.0, 1.0))
    scored = [s for batch in score_images(open_model(path, "cpu"), find_images([images]), 0.0) for s in batch]
    scores = np.array([s.prediction.score for s in scored])
    maps = np.stack([s.anomaly_map for s in scored])
    calibration = Calibration(threshold=float(np.median(scores)), score_mean=float(scores.mean()),
                              score_std=float(scores.std()), map_low=float(np.percentile(maps, 1)),
                              map_high=float(np.percentile(maps, 99.9)), score_low=float(scores.min()),
                              score_high=float(scores.max()))
    save_model(path, config, flow, calibration)
    return path


def test_predict_writes_decisions_and_overlays(model_path: Path, images: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_path), str(images), "--out", str(out), "--batch-size", "2"]) == 0
    table = pd.read_csv(out / "predictions.csv")
    assert list(table.columns) == ["path", "score", "normalized_score", "threshold", "anomalous", "overlay", "map",
                                   "regions"]
    # the folder's images only, sorted by name: no .txt, no subfolder
    assert [Path(p).name for p in table["path"]] == NAMES
    calibration = load_model(model_path).calibration
    assert (table["threshold"] == calibration.threshold).all()
    assert (table["anomalous"] == (table["score"] >= calibration.threshold)).all()
    assert set(table["anomalous"]) == {True, False}
    # anomalib's min-max normalisation around the threshold, clipped to [0, 1]
    expected = np.clip((table["score"] - calibration.threshold) / (calibration.score_high - calibration.score_low)
                       + 0.5, 0, 1)
    np.testing.assert_allclose(table["normalized_score"], expected, rtol=1e-9)
    assert (table["anomalous"] == (table["normalized_score"] >= 0.5)).all()
    for name, path, overlay in zip(NAMES, table["path"], table["overlay"]):
        assert overlay == f"overlays/{Path(name).stem}.png"
        picture = cv2.imread(str(out / overlay))
        height, width = cv2.imread(path).shape[:2]
        assert picture.shape == (height, 2 * width, 3)  # input and heatmap side by side, at the image's own size
    assert sorted(p.name for p in out.iterdir()) == [".ssflow-outputs.json", "overlays", "predictions.csv",
                                                      "regions.csv"]
    printed = capsys.readouterr().out
    assert f"scored 5 images: {int(table['anomalous'].sum())} anomalous" in printed


def test_predict_parquet_recursive_and_replaces_old_overlays(model_path: Path, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_path), str(images / "deeper" / "f.png"), "--out", str(out)]) == 0
    assert (out / "overlays" / "f.png").is_file()  # one input: no folder
    assert main(["predict", "--model", str(model_path), str(images), str(images / "a.png"), "--recursive",
                 "--out", str(out), "--format", "parquet"]) == 0
    assert not (out / "predictions.csv").exists()  # the earlier run's table, in the other format
    table = pd.read_parquet(out / "predictions.parquet")
    names = [Path(p).relative_to(images).as_posix() for p in table["path"]]
    # sorted by path below the folder; a.png, named twice, is scored once
    assert names == ["a.png", "b.bmp", "c.JPG", "d.tif", "deeper/f.png", "e.png"]
    overlays = sorted(p.relative_to(out / "overlays").as_posix() for p in (out / "overlays").rglob("*.png"))
    # below the inputs' common folder; the earlier run's overlays/f.png is gone
    assert overlays == sorted([f"{Path(n).stem}.png" for n in NAMES] + ["deeper/f.png"])
    assert table["anomalous"].dtype == bool


def test_an_output_folder_inside_the_inputs_is_not_scored_again(model_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "line"
    for seed in range(3):
        write_image(folder / f"{seed}.png", seed)
    out = folder / "predictions"
    for _ in range(2):  # the second run finds the first run's overlays below the folder
        assert main(["predict", "--model", str(model_path), str(folder), "--recursive", "--out", str(out)]) == 0
        assert len(pd.read_csv(out / "predictions.csv")) == 3


def test_skip_unreadable_scores_the_rest_and_lists_what_it_left_out(model_path: Path, images: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "line"
    for name in ("a.png", "c.JPG", "e.png"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes((images / name).read_bytes())
    (folder / "b_torn.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # a write cut short
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_path), str(folder), "--out", str(out), "--skip-unreadable",
                 "--batch-size", "2"]) == 0
    table = pd.read_csv(out / "predictions.csv")
    assert [Path(p).name for p in table["path"]] == ["a.png", "c.JPG", "e.png"]
    assert table["overlay"].tolist() == ["overlays/a.png", "overlays/c.png", "overlays/e.png"]
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["a.png", "c.png", "e.png"]
    skipped = pd.read_csv(out / "skipped.csv")
    assert skipped["path"].tolist() == [str(folder / "b_torn.png")]
    assert "not a readable image" in skipped["reason"][0]
    assert "skipped 1 unreadable image (b_torn.png)" in capsys.readouterr().out
    # Scores are those of a run without the torn file; a clean rerun removes the stale list.
    (folder / "b_torn.png").unlink()
    assert main(["predict", "--model", str(model_path), str(folder), "--out", str(out)]) == 0
    assert pd.read_csv(out / "predictions.csv")["score"].tolist() == pytest.approx(table["score"].tolist())
    assert not (out / "skipped.csv").exists()
    # Nothing readable at all: one line, and the earlier results stay.
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    capsys.readouterr()
    assert main(["predict", "--model", str(model_path), str(torn), "--out", str(out), "--skip-unreadable"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no image could be read (1 tried" in err
    assert len(pd.read_csv(out / "predictions.csv")) == 3


def test_overlay_names_stay_unique_for_shared_stems() -> None:
    paths = [Path("x/a.png"), Path("x/a.bmp"), Path("y/a.png"), Path("x/b.png"), Path("x/sub/a.png")]
    assert overlay_names(paths) == ["x/a_png.png", "x/a_bmp.png", "y/a.png", "x/b.png", "x/sub/a.png"]
    assert overlay_names([Path("/data/line/one.png")]) == ["one.png"]  # one input: no folder


def test_missing_and_invalid_model_files_are_one_line_errors(images: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.pt"
    assert main(["predict", "--model", str(missing), str(images), "--out", str(tmp_path / "out")]) == 2
    assert f"model file not found: {missing}" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_text("this is not a model")
    assert main(["predict", "--model", str(junk), str(images), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(junk) in err and "not a model.pt written by 'train'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_no_images_names_the_folders(model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("nothing to score")
    assert main(["predict", "--model", str(model_path), str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"no images found in {empty}" in err and "--recursive" in err
    assert main(["predict", "--model", str(model_path), str(tmp_path / "ghost.png"), "--out",
                 str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'ghost.png'}: no such image file or folder" in capsys.readouterr().err


def test_unreadable_image_is_named_and_nothing_is_written(model_path: Path, images: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken" / "z_broken.png"
    broken.parent.mkdir()
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_path), str(images / "a.png"), str(broken),
                 "--out", str(out), "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and len(err.strip().splitlines()) == 1 and "--skip-unreadable" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_a_model_trained_at_a_bit_depth_reads_16_bit_images_at_it(model_path: Path, tmp_path: Path) -> None:
    """model.pt and its ONNX export both carry data.bit_depth, and predict reads 16-bit files with it."""
    model = load_model(model_path, CPU)
    config = dataclasses.replace(model.config, data=dataclasses.replace(model.config.data, bit_depth=12))
    deep = tmp_path / "deep.pt"
    save_model(deep, config, model.flow, model.calibration)
    onnx_path = tmp_path / "deep.onnx"
    assert main(["export-model", "--model", str(deep), "--out", str(onnx_path)]) == 0
    frame = tmp_path / "dark.png"  # 12-bit data whose brightest pixel fits 10 bits
    assert cv2.imwrite(str(frame), np.random.default_rng(0).integers(0, 1000, (40, 48), dtype=np.uint16))
    for path in (deep, onnx_path):
        opened = open_model(path, "cpu")
        assert opened.inputs.bit_depth == 12
        [scored] = next(score_images(opened, [frame], 0.0))
        np.testing.assert_array_equal(scored.image, to_rgb(decode(frame), 12))  # at its own 48 x 40 size
        assert scored.image.max() <= (1000 >> 4)  # not read as 10-bit (4x brighter)
