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


def write_class_mask(path: Path, classes: dict[int, tuple[int, int, int, int]], side: int = SIDE) -> Path:
    """A class-id mask (VisA): each id's rectangle (x0, y0, x1, y1 inclusive) filled with the id."""
    mask = np.zeros((side, side), np.uint8)
    for value, (x0, y0, x1, y1) in classes.items():
        mask[y0:y1 + 1, x0:x1 + 1] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask)
    return path


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    """Your own images, three categories.

    bracket (no train/test): good x10, scratch x3 (masks/scratch/<stem>.png), dent x2 (.jpg,
    masks/dent/<stem>_mask.png), plus macOS debris; panel: good x10, crack x4, no masks
    (image-level only); housing (train/test): train/good x6, test/good x3, test/hole x3 with
    ground_truth/hole/<stem>_mask.png.
    """
    root = tmp_path / "parts"
    bracket = root / "bracket"
    for index in range(10):
        write_image(bracket / "good" / f"{index:04d}.png", seed=index)
    for index in range(3):
        write_image(bracket / "scratch" / f"s{index}.png", seed=20 + index)
        write_mask(bracket / "masks" / "scratch" / f"s{index}.png")
    for index in range(2):
        write_image(bracket / "dent" / f"d{index}.jpg", seed=30 + index)
        write_mask(bracket / "masks" / "dent" / f"d{index}_mask.png", box=(10, 10, 20, 20))
    write_image(bracket / "good" / "._0000.png", seed=99)
    write_image(bracket / "__MACOSX" / "good" / "._0001.png", seed=98)
    panel = root / "panel"
    for index in range(10):
        write_image(panel / "good" / f"{index:04d}.bmp", seed=40 + index)
    for index in range(4):
        write_image(panel / "crack" / f"{index:04d}.png", seed=60 + index)
    housing = root / "housing"
    for index in range(6):
        write_image(housing / "train" / "good" / f"{index:03d}.png", seed=70 + index)
    for index in range(3):
        write_image(housing / "test" / "good" / f"{index:03d}.png", seed=80 + index)
        write_image(housing / "test" / "hole" / f"{index:03d}.png", seed=90 + index)
        write_mask(housing / "ground_truth" / "hole" / f"{index:03d}_mask.png")
    (root / "notes.txt").write_text("not a category\n")
    return root


@pytest.fixture
def manifest_images(tmp_path: Path) -> Path:
    """Images for manifests under tmp/images: ok/0..7.png, bad/0..3.png with masks/0..3.png (0/1 values)."""
    folder = tmp_path / "images"
    for index in range(8):
        write_image(folder / "ok" / f"{index}.png", seed=index)
    for index in range(4):
        write_image(folder / "bad" / f"{index}.png", seed=10 + index)
        mask = np.zeros((SIDE, SIDE), np.uint8)
        mask[5:15, 5:15] = 1
        (folder / "masks").mkdir(exist_ok=True)
        assert cv2.imwrite(str(folder / "masks" / f"{index}.png"), mask)
    return folder


# One VisA category as distributed: (split, label, image, mask) rows of split_csv/1cls.csv.
VISA_ROWS = [
    *[("train", "normal", f"candle/Data/Images/Normal/{i:04d}.JPG", "") for i in range(6)],
    *[("test", "normal", f"candle/Data/Images/Normal/{i:04d}.JPG", "") for i in range(6, 9)],
    *[("test", "anomaly", f"candle/Data/Images/Anomaly/{i:03d}.JPG", f"candle/Data/Masks/Anomaly/{i:03d}.png")
      for i in range(3)],
]


@pytest.fixture
def visa_root(tmp_path: Path) -> Path:
    """VisA with one category, candle: 6 train normal, 3 test normal, 3 anomalies (class-id masks 1 and 2)."""
    root = tmp_path / "VisA"
    for index, (_, label, image, mask) in enumerate(VISA_ROWS):
        write_image(root / image, seed=index)
        if mask:
            write_class_mask(root / mask, {1: (2, 2, 8, 8), 2: (20, 20, 28, 24)})
    lines = ["object,split,label,image,mask", *(f"candle,{','.join(row)}" for row in VISA_ROWS)]
    (root / "split_csv").mkdir()
    (root / "split_csv" / "1cls.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def mvtec_ad2_root(tmp_path: Path) -> Path:
    """MVTec AD 2 with one category, vial (grey): 6 train, 2 validation, test_public 3 good + 3 bad with masks."""
    vial = tmp_path / "mvtec_ad_2" / "vial"
    for index in range(6):
        write_image(vial / "train" / "good" / f"{index:03d}_regular.png", seed=index, grey=True)
    for index in range(2):
        write_image(vial / "validation" / "good" / f"{index:03d}_regular.png", seed=10 + index, grey=True)
    for index, lighting in enumerate(("regular", "overexposed", "shift_1")):
        write_image(vial / "test_public" / "good" / f"{index:03d}_{lighting}.png", seed=20 + index, grey=True)
        write_image(vial / "test_public" / "bad" / f"{index:03d}_{lighting}.png", seed=30 + index, grey=True)
        write_mask(vial / "test_public" / "ground_truth" / "bad" / f"{index:03d}_{lighting}_mask.png")
    write_image(vial / "test_private" / "000_regular.png", seed=40, grey=True)
    return tmp_path / "mvtec_ad_2"


TINY_TRAIN = ["--image-size", "64", "--epochs", "1", "--set", "flow.coupling_blocks=1",
              "--set", "flow.hidden_channels=16", "--device", "cpu"]


def train_metrics(dataset: str, root: Path, category: str, out: Path, *extra: str) -> dict:
    """Run ``train`` at tiny settings through the command line; its metrics.json (exit code asserted 0)."""
    import json

    from cli.main import main

    code = main(["train", "--dataset", dataset, "--data-root", str(root), "--category", category,
                 "--out", str(out), *TINY_TRAIN, *extra])
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture
def run_train() -> Callable[..., dict]:
    return train_metrics
