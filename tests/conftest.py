"""Fixtures shared across the suite: a small generated dataset in the BTAD layout, one tiny trained model."""

from pathlib import Path

import pytest

from cli.main import main
from ssflow.datasets.demo import DemoSettings, generate_demo
from ssflow.datasets.painters import DefectStyle

TRAINED_SIZE = 64  # the image size of the ``trained`` model

SMALL_DEMO = DemoSettings(size=128, train=24, test_ok=8, test_ko=8, categories=("wood", "fabric"))
# Non-square images with small defects, for tiled models: 384 x 192, defects about 4 to 25 px.
WIDE = DemoSettings(name="wide", size=128, width=384, height=192, train=12, test_ok=4, test_ko=4,
                    categories=("fabric",), defects=("spot", "scratch"), style=DefectStyle(unit=0.6))


@pytest.fixture(scope="session")
def small_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two demo categories at 128 px, 24 training and 16 test images each (read as ``btad``)."""
    return generate_demo(tmp_path_factory.mktemp("small-demo") / "demo", seed=0, settings=SMALL_DEMO)


@pytest.fixture(scope="session")
def wide_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One category (fabric) of 384 x 192 images with small defects (read as ``btad``)."""
    return generate_demo(tmp_path_factory.mktemp("wide") / "data", seed=0, settings=WIDE)


@pytest.fixture(scope="session")
def trained(small_demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with model.pt, model.onnx and metrics.json from one ``train --export onnx`` run (wood, 64 px, 1 epoch)."""
    out = tmp_path_factory.mktemp("onnx") / "wood"
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", str(TRAINED_SIZE), "--epochs", "1", "--out", str(out), "--export", "onnx"]) == 0
    return out
