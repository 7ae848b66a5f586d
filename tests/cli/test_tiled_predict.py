"""Tiled models end to end: non-square images in, full-size maps and defect regions out, torch and ONNX alike."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cli.main import main

DEFECT = (300, 40, 14, 10)  # x, y, width, height of the patch painted onto a normal image


@pytest.fixture(scope="module")
def tiled_model(wide_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.pt and model.onnx trained on 384 x 192 images in 96-px tiles at 64 px (2 epochs)."""
    out = tmp_path_factory.mktemp("tiled") / "model"
    assert main(["train", "--dataset", "btad", "--data-root", str(wide_root), "--category", "fabric", "--image-size", "64",
                 "--set", "data.tile_size=96", "--set", "data.tile_overlap=0.25", "--epochs", "2",
                 "--out", str(out), "--export", "onnx"]) == 0
    return out


@pytest.fixture(scope="module")
def painted(wide_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A normal wide image with a patch at :data:`DEFECT` (the model never saw it)."""
    folder = tmp_path_factory.mktemp("painted")
    image = cv2.imread(str(sorted((wide_root / "fabric" / "test" / "ok").glob("*.png"))[0]))
    x, y, width, height = DEFECT
    image[y:y + height, x:x + width] = (20, 20, 200)
    path = folder / "painted.png"
    cv2.imwrite(str(path), image)
    return path


def _predict(model: Path, image: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    assert main(["predict", "--model", str(model), str(image), "--out", str(out), "--save-maps"]) == 0
    table = pd.read_csv(out / "predictions.csv")
    return table, pd.read_csv(out / "regions.csv"), np.load(out / table["map"][0])


def test_a_tiled_model_maps_a_non_square_image_at_its_size_and_boxes_the_defect(tiled_model: Path, painted: Path,
                                                                              tmp_path: Path) -> None:
    table, regions, anomaly_map = _predict(tiled_model / "model.pt", painted, tmp_path / "torch")
    assert anomaly_map.shape == (192, 384) and anomaly_map.dtype == np.float32
    assert bool(table["anomalous"][0]) and table["regions"][0] == len(regions) >= 1
    assert list(regions.columns) == ["path", "region", "x", "y", "width", "height", "area_px", "max_score"]
    x, y, width, height = DEFECT
    top = regions.iloc[0]  # region 1 holds the highest score
    overlaps = (top.x < x + width and x < top.x + top.width and top.y < y + height and y < top.y + top.height)
    assert overlaps, regions
    assert (top.x + top.width <= 384) and (top.y + top.height <= 192)
    overlay = cv2.imread(str(tmp_path / "torch" / table["overlay"][0]))
    assert overlay.shape[:2] == (192, 2 * 384)  # image and overlay side by side, at the image's own size


def test_the_onnx_file_tiles_and_stitches_the_same_maps(tiled_model: Path, painted: Path, tmp_path: Path) -> None:
    by_torch = _predict(tiled_model / "model.pt", painted, tmp_path / "torch")
    by_onnx = _predict(tiled_model / "model.onnx", painted, tmp_path / "onnx")
    np.testing.assert_allclose(by_onnx[2], by_torch[2], atol=1e-3)
    assert abs(by_onnx[0]["score"][0] - by_torch[0]["score"][0]) <= 1e-3 * max(1.0, abs(by_torch[0]["score"][0]))
    assert len(by_onnx[1]) == len(by_torch[1])


def test_overlay_size_caps_the_overlay_and_min_region_px_drops_specks(tiled_model: Path, painted: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "capped"
    assert main(["predict", "--model", str(tiled_model / "model.onnx"), str(painted), "--out", str(out),
                 "--overlay-size", "96", "--min-region-px", "100000"]) == 0
    table = pd.read_csv(out / "predictions.csv")
    assert cv2.imread(str(out / table["overlay"][0])).shape[:2] == (48, 192)
    assert len(pd.read_csv(out / "regions.csv")) == 0 and table["regions"][0] == 0


def test_a_tile_larger_than_the_images_is_refused_in_one_line(wide_root: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--dataset", "btad", "--data-root", str(wide_root), "--category", "fabric", "--image-size", "64",
                 "--set", "data.tile_size=256", "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'data.tile_size': got 256, larger than image" in err and "[32, 192]" in err


def test_an_image_smaller_than_the_tiles_is_named_at_predict(tiled_model: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((80, 120, 3), 128, np.uint8))
    assert main(["predict", "--model", str(tiled_model / "model.onnx"), str(small), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is 120x80 px" in err and "smaller than the model's 96 px tiles" in err


def test_a_model_that_squashes_says_so_for_non_square_images(trained: Path, painted: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", "--model", str(trained / "model.onnx"), str(painted), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "1 non-square image is squashed to a square" in out and "data.keep_aspect=true" in out
