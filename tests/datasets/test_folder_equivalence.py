"""A generated dataset re-arranged as a folder dataset reads and trains exactly as in its own layout."""

import os
from pathlib import Path

import numpy as np
import pytest

from ssflow.settings.config import BackboneConfig, DataConfig, SSFlowConfig
from ssflow.datasets.prepared import prepare_data

# BTAD layout of the generated demo -> folder layout with train/ and test/
MOVES = {"train/ok": "train/good", "test/ok": "test/good", "test/ko": "test/ko", "ground_truth/ko": "masks/ko"}


@pytest.fixture
def wood_as_folder(small_demo_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "own"
    for old, new in MOVES.items():
        (root / "wood" / new).mkdir(parents=True)
        for path in (small_demo_root / "wood" / old).iterdir():
            os.link(path, root / "wood" / new / path.name)
    return root


def test_same_images_same_splits(small_demo_root: Path, wood_as_folder: Path) -> None:
    size = BackboneConfig(image_size=64)
    native = prepare_data(SSFlowConfig(data=DataConfig(dataset="btad", root=str(small_demo_root), category="wood",
                                                       split_seed=5), backbone=size))
    folder = prepare_data(SSFlowConfig(data=DataConfig(dataset="folder", root=str(wood_as_folder), category="wood",
                                                       split_seed=5), backbone=size))
    assert folder.held_out == 0
    np.testing.assert_array_equal(native.train, folder.train)
    for split in ("selection", "report"):
        a, b = getattr(native, split), getattr(folder, split)
        assert sorted(Path(p).name for p in a.paths) == sorted(Path(p).name for p in b.paths)


def test_train_gives_the_same_metrics(small_demo_root: Path, wood_as_folder: Path, tmp_path: Path,
                                      run_train) -> None:
    native = run_train("btad", small_demo_root, "wood", tmp_path / "native", "--seed", "3")
    folder = run_train("folder", wood_as_folder, "wood", tmp_path / "folder", "--seed", "3")
    for split in ("selection", "report"):
        for name, value in native[split].items():
            assert folder[split][name] == pytest.approx(value, abs=1e-6), (split, name)
