"""A WideResNet-50 for users with its weights: ``--backbone-weights FILE`` (torchvision's names) trains and predicts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torchvision

from cli.main import main


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchvision's wide_resnet50_2, randomly initialised (no download), saved as a plain state dict."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = torchvision.models.wide_resnet50_2(weights=None)
    path = tmp_path_factory.mktemp("wrn") / "wide_resnet50_2.pth"
    torch.save(model.state_dict(), path)
    return path


def test_a_wide_resnet50_weights_file_trains_and_predicts(weights_file: Path, small_demo_root: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wrn"
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--backbone", "wide_resnet50_2", "--backbone-weights", str(weights_file),
                 "--set", "backbone.levels=[2, 3]", "--image-size", "64", "--epochs", "1", "--out", str(out)]) == 0
    config = (out / "config.yaml").read_text()
    assert "wide_resnet50_2" in config and str(weights_file) in config
    images = small_demo_root / "wood" / "test" / "ko"
    assert main(["predict", "--model", str(out / "model.pt"), str(images), "--out", str(tmp_path / "p")]) == 0
    table = pd.read_csv(tmp_path / "p" / "predictions.csv")
    assert len(table) == len(list(images.glob("*.png"))) and table["score"].notna().all()

    # The model refers to its weights file by path and digest: a moved file is named with --backbone-weights,
    # a different file under the old path is refused.
    moved = tmp_path / "moved.pth"
    weights_file.rename(moved)
    try:
        capsys.readouterr()
        assert main(["predict", "--model", str(out / "model.pt"), str(images), "--out", str(tmp_path / "q")]) == 2
        assert "file not found" in capsys.readouterr().err and not (tmp_path / "q").exists()
        assert main(["predict", "--model", str(out / "model.pt"), str(images), "--out", str(tmp_path / "q"),
                     "--backbone-weights", str(moved)]) == 0
        assert pd.read_csv(tmp_path / "q" / "predictions.csv")["score"].tolist() == table["score"].tolist()
        other = torchvision.models.wide_resnet50_2(weights=None)  # other random weights, same names and shapes
        torch.save(other.state_dict(), tmp_path / "other.pth")
        capsys.readouterr()
        assert main(["export-model", "--model", str(out / "model.pt"), "--out", str(tmp_path / "m.onnx"),
                     "--backbone-weights", str(tmp_path / "other.pth")]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "not the file" in err and err.startswith("error: --backbone-weights ")
    finally:
        moved.rename(weights_file)


def test_a_weights_file_of_another_architecture_is_one_line(weights_file: Path, small_demo_root: Path,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--backbone", "resnet18", "--backbone-weights", str(weights_file), "--image-size", "64",
                 "--epochs", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "do not fit timm model 'resnet18'" in err
