"""Mistakes around shipping a model: folders that would mix two models, paths below files, stale files,
ONNX files edited after export. Each is one line and exit 2, or a clean folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from cli.main import main

SIZE = 64  # the image size of the shared trained model (tests/conftest.py)


def error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_training_again_into_a_folder_leaves_nothing_of_the_earlier_model(trained: Path, small_demo_root: Path,
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "wood"
    shutil.copytree(trained, out)
    assert (out / "model.onnx").is_file()
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", str(SIZE), "--epochs", "1", "--seed", "5", "--out", str(out)]) == 0
    assert not (out / "model.onnx").exists()  # this run exported none: the earlier one must not ship
    written = {path.name for path in out.iterdir()}
    assert {"model.pt", "metrics.json", "config.yaml"} <= written


@pytest.mark.parametrize("command", [
    ["train", "--dataset", "demo", "--category", "wood", "--out"],
    ["predict", "--model", "MODEL", "IMAGES", "--out"],
    ["export-model", "--model", "MODEL", "--out"],
])
def test_an_output_below_a_file_is_one_line_before_any_work(command: list[str], trained: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    target = blocker / ("model.onnx" if command[0] == "export-model" else "out")
    arguments = [str(trained / "model.pt") if part == "MODEL" else str(trained) if part == "IMAGES" else part
                 for part in command]
    assert main([*arguments, str(target)]) == 2
    assert f"{blocker} is a file" in error_line(capsys)


def test_export_model_wants_an_onnx_file_name(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export-model", "--model", str(trained / "model.pt"), "--out", str(tmp_path / "model.txt")]) == 2
    assert "expected a .onnx file name" in error_line(capsys)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"threshold": 5}),
                                     json.dumps({"threshold": {"value": 123.0}, "fpr_thresholds": []})])
def test_a_metrics_file_of_another_model_is_not_trusted(content: str, trained: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(trained / "model.pt", folder / "model.pt")
    (folder / "metrics.json").write_text(content)
    assert main(["export-model", "--model", str(folder / "model.pt"), "--out", str(folder / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "note" in out and "precision/recall not shown" in out and (folder / "m.onnx").is_file()


def test_an_onnx_file_edited_after_export_is_refused(trained: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    model = onnx.load(str(trained / "model.onnx"))
    # A renamed output, as an edit by another tool leaves it; the ssflow metadata stays.
    model.graph.node.append(onnx.helper.make_node("Identity", ["anomaly_map"], ["heatmap"]))
    output = next(item for item in model.graph.output if item.name == "anomaly_map")
    output.name = "heatmap"
    edited = tmp_path / "edited.onnx"
    onnx.save(model, str(edited))
    assert main(["predict", "--model", str(edited), str(trained), "--out", str(tmp_path / "p")]) == 2
    assert "does not match its ssflow metadata" in error_line(capsys)
