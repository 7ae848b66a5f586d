"""``run_search.py export-model``: the checked export, its refusals, and older model files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import ssflow.deployment.onnx_export as onnx_export
from cli.main import main
from ssflow_runtime.calibration import calibration_to_dict
from ssflow.deployment.model_io import load_model
from ssflow_runtime.onnx_model import open_onnx_model


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Printed lines unwrapped, so paths can be found in them."""
    monkeypatch.setenv("COLUMNS", "300")

def test_export_model_writes_a_checked_file_and_prints_the_thresholds(trained: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "deploy" / "wood.onnx"
    images = [str(Path(trained).parent)]  # no images there: a folder of model files is refused ...
    assert main(["export-model", "--model", str(trained / "model.pt"), "--format", "onnx", "--out", str(out),
                 "--images", *images]) == 2
    assert "no images found" in capsys.readouterr().err and not out.exists()
    overlays = sorted(trained.glob("overlay_*.png"))[:2]  # ... real images are taken (read at the model's size)
    assert main(["export-model", "--model", str(trained / "model.pt"), "--format", "onnx", "--out", str(out),
                 "--images", *map(str, overlays)]) == 0
    printed = capsys.readouterr().out.replace("\n", " ")
    assert f"wrote {out}" in printed
    assert "ONNX Runtime matches torch on 2 model inputs (cut from the given images" in printed
    assert "(best F1 on the selection split); report split: precision" in printed
    assert "max FPR" in printed and "report recall" in printed
    model = open_onnx_model(out, "cpu")
    assert model.calibration == load_model(trained / "model.pt").calibration
    assert [p.name for p in out.parent.iterdir()] == ["wood.onnx"]  # no temporary file left


def test_a_graph_that_disagrees_with_torch_is_refused_and_never_written(trained: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    def export_a_different_graph(pipeline, path: Path) -> None:
        # A real ONNX graph whose maps are smoothed 1 % harder than torch's: small, but far past the tolerances.
        pipeline.smoothing.mul_(1.01)
        try:
            torch.onnx.export(pipeline, (torch.zeros(1, 3, 64, 64, dtype=torch.uint8),), str(path), dynamo=False,
                              input_names=["images"], output_names=["anomaly_map", "score"],
                              dynamic_axes={"images": {0: "batch"}})
        finally:
            pipeline.smoothing.div_(1.01)

    monkeypatch.setattr(onnx_export, "_export_graph", export_a_different_graph)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an older export that must survive")
    assert main(["export-model", "--model", str(trained / "model.pt"), "--out", str(out)]) == 1
    printed = capsys.readouterr().out.replace("\n", " ")
    assert "export refused" in printed and "ONNX Runtime disagrees with the torch model" in printed
    assert out.read_bytes() == b"an older export that must survive"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize(("arguments", "words"), [
    (["--model", "{onnx}", "--out", "{tmp}/x.onnx"], "already an ONNX file"),
    (["--model", "{tmp}/nothing.pt", "--out", "{tmp}/x.onnx"], "model file not found"),
    (["--model", "{pt}", "--out", "{tmp}"], "is a folder"),
    (["--model", "{junk}", "--out", "{tmp}/x.onnx"], "not a model file"),
    (["--model", "{pt}", "--out", "{tmp}/x.onnx", "--format", "tflite"], "invalid choice"),
])
def test_export_model_mistakes_are_one_line(arguments: list[str], words: str, trained: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a model")
    filled = [a.format(onnx=trained / "model.onnx", pt=trained / "model.pt", tmp=tmp_path, junk=junk)
              for a in arguments]
    with pytest.raises(SystemExit) if "--format" in arguments else _no_exit() as stopped:
        code = main(["export-model", *filled])
    code = stopped.value.code if stopped else code
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


class _no_exit:
    value = None

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_a_model_pt_from_before_the_fpr_thresholds_still_predicts(trained: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    payload = torch.load(trained / "model.pt", weights_only=True)
    first_version = ("threshold", "score_mean", "score_std", "map_low", "map_high")
    payload["calibration"] = {key: payload["calibration"][key] for key in first_version}
    old = tmp_path / "old" / "model.pt"
    old.parent.mkdir()
    torch.save(payload, old)
    calibration = load_model(old).calibration
    assert calibration.fpr_thresholds == () and math.isnan(calibration.score_low)
    images = str(sorted(trained.glob("overlay_*.png"))[0])
    assert main(["predict", "--model", str(old), images, "--out", str(tmp_path / "p")]) == 0
    table = pd.read_csv(tmp_path / "p" / "predictions.csv")
    assert table["normalized_score"].isna().all() and (table["threshold"] == calibration.threshold).all()
    assert main(["predict", "--model", str(old), images, "--out", str(tmp_path / "q"), "--max-fpr", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "holds no normal image scores" in err and "--threshold" in err and len(err.strip().splitlines()) == 1
    assert calibration_to_dict(calibration)["score_low"] is None


@pytest.mark.parametrize(("arguments", "words"), [
    (["--threshold", "1", "--max-fpr", "0.01"], "not allowed with argument"),
    (["--max-fpr", "0"], "expected a false-positive rate in (0, 1)"),
    (["--max-fpr", "1.5"], "expected a false-positive rate in (0, 1)"),
    (["--threshold", "nan"], "expected a finite image score"),
])
def test_threshold_flag_mistakes_are_one_line(arguments: list[str], words: str, trained: Path, tmp_path: Path,
                                              capfd: pytest.CaptureFixture) -> None:
    image = str(sorted(trained.glob("overlay_*.png"))[0])
    try:
        code = main(["predict", "--model", str(trained / "model.onnx"), image, "--out", str(tmp_path / "o"),
                     *arguments])
    except SystemExit as stopped:
        code = stopped.code
    err = capfd.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_wrong_model_files_for_predict_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\x08\x07 not really protobuf")
    assert main(["predict", "--model", str(fake), str(image), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{fake}: not a readable ONNX model" in err and len(err.strip().splitlines()) == 1
    weights = tmp_path / "weights.bin"
    weights.write_bytes(np.arange(10, dtype=np.float32).tobytes())
    assert main(["predict", "--model", str(weights), str(image), "--out", str(tmp_path / "o")]) == 2
    assert "not a model file; expected a model.pt written by 'train' or a .onnx" in capsys.readouterr().err
