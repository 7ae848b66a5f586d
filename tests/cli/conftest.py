"""One tiny trained model shared by the command-line tests of ONNX export and prediction."""

from pathlib import Path

import pytest

from cli.main import main

SIZE = 64


@pytest.fixture(scope="session")
def trained(small_demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with model.pt, model.onnx and metrics.json from one ``train --export onnx`` run (wood, 64 px, 1 epoch)."""
    out = tmp_path_factory.mktemp("onnx") / "wood"
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", str(SIZE), "--epochs", "1", "--out", str(out), "--export", "onnx"]) == 0
    return out
