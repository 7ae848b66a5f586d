"""Tiny dataset trees in the official layouts, written into tmp_path with cv2."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

SIDE = 32


def write_image(path: Path, seed: int = 0, side: int = SIDE, grey: bool = False) -> Path:
    """A random image (BGR or grey uint8) at ``path``; the suffix picks the format."""
    rng = np.random.default_rng(seed)
    shape = (side, side) if grey else (side, side, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rng.integers(0, 256, shape, dtype=np.uint8)):
        raise OSError(f"could not write {path}")
    return path


def write_mask(path: Path, side: int = SIDE, box: tuple[int, int, int, int] = (4, 4, 12, 12)) -> Path:
    """A 0/255 mask with one filled rectangle (x0, y0, x1, y1 inclusive) at ``path``."""
    mask = np.zeros((side, side), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1 + 1, x0:x1 + 1] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), mask):
        raise OSError(f"could not write {path}")
    return path


@pytest.fixture
def image_writer() -> Callable[..., Path]:
    return write_image


@pytest.fixture
def mask_writer() -> Callable[..., Path]:
    return write_mask


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    """bottle: 3 train, test good x2, broken_large x2, contamination x1; carpet: 1 train, 1 test."""
    root = tmp_path / "mvtec"
    bottle = root / "bottle"
    for index in range(3):
        write_image(bottle / "train" / "good" / f"{index:03d}.png", seed=index)
    for index in range(2):
        write_image(bottle / "test" / "good" / f"{index:03d}.png", seed=10 + index)
        write_image(bottle / "test" / "broken_large" / f"{index:03d}.png", seed=20 + index)
        write_mask(bottle / "ground_truth" / "broken_large" / f"{index:03d}_mask.png")
    write_image(bottle / "test" / "contamination" / "000.png", seed=30)
    write_mask(bottle / "ground_truth" / "contamination" / "000_mask.png")
    write_image(root / "carpet" / "train" / "good" / "000.png", seed=40)
    write_image(root / "carpet" / "test" / "good" / "000.png", seed=41)
    (root / "license.txt").write_text("not a category\n")
    return root


# (image suffix, mask suffix) per BTAD product, as distributed.
BTAD_SUFFIXES = {"01": (".bmp", ".png"), "02": (".png", ".png"), "03": (".bmp", ".bmp")}


@pytest.fixture
def btad_suffixes() -> dict[str, tuple[str, str]]:
    return dict(BTAD_SUFFIXES)


@pytest.fixture
def btad_root(tmp_path: Path) -> Path:
    """BTech_Dataset_transformed with 3 products: 3 train ok, 2 test ok, 2 test ko each."""
    root = tmp_path / "BTech_Dataset_transformed"
    for product, (image_suffix, mask_suffix) in BTAD_SUFFIXES.items():
        folder = root / product
        for index in range(3):
            write_image(folder / "train" / "ok" / f"{index:04d}{image_suffix}", seed=index)
        for index in range(2):
            write_image(folder / "test" / "ok" / f"{index:04d}{image_suffix}", seed=10 + index)
            write_image(folder / "test" / "ko" / f"{index:04d}{image_suffix}", seed=20 + index)
            write_mask(folder / "ground_truth" / "ko" / f"{index:04d}{mask_suffix}")
    return root


def write_labels(path: Path, rows: list[tuple[int, int, str, str]], header: str = "1") -> Path:
    """A DAGM Labels.txt: header line, then 'index, flag, image, 0, label or 0' tab-separated."""
    lines = [header] + [f"{index}\t{flag}\t{image}\t0\t{label}" for index, flag, image, label in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def labels_writer() -> Callable[..., Path]:
    return write_labels


@pytest.fixture
def dagm_root(tmp_path: Path) -> Path:
    """Class1 and Class10 (grey .PNG): Train 4 rows (0003 defective), Test 3 rows (0002, 0003 defective)."""
    root = tmp_path / "dagm"
    for name in ("Class1", "Class10"):
        train, test = root / name / "Train", root / name / "Test"
        for index in range(1, 5):
            write_image(train / f"{index:04d}.PNG", seed=index, grey=True)
        write_mask(train / "Label" / "0003_label.PNG")
        write_labels(train / "Label" / "Labels.txt", [
            (1, 0, "0001.PNG", "0"), (2, 0, "0002.PNG", "0"), (3, 1, "0003.PNG", "0003_label.PNG"),
            (4, 0, "0004.PNG", "0"),
        ])
        for index in range(1, 4):
            write_image(test / f"{index:04d}.PNG", seed=10 + index, grey=True)
        write_mask(test / "Label" / "0002_label.PNG")
        write_mask(test / "Label" / "0003_label.PNG")
        write_labels(test / "Label" / "Labels.txt", [
            (1, 0, "0001.PNG", "0"), (2, 1, "0002.PNG", "0002_label.PNG"), (3, 1, "0003.PNG", "0003_label.PNG"),
        ])
    return root


@pytest.fixture(scope="session")
def default_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full-size demo dataset, generated once per test session through the registry."""
    from ssflow.datasets import prepare_root

    return prepare_root("demo", tmp_path_factory.mktemp("generated") / "demo")
