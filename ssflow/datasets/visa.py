"""VisA reader (Zou et al., "SPot-the-Difference Self-supervised Pre-training for Anomaly Detection
and Segmentation", ECCV 2022), in the layout of its original archive.

Layout as distributed::

    <root>/<category>/Data/Images/Normal/*.JPG
    <root>/<category>/Data/Images/Anomaly/*.JPG
    <root>/<category>/Data/Masks/Anomaly/*.png      class ids: 0 background, 1..k defect classes
    <root>/split_csv/1cls.csv

``split_csv/1cls.csv`` is the authors' one-class split: a header
``object,split,label,image,mask``, then one row per image: category,
``train`` or ``test``, ``normal`` or ``anomaly``, the image path relative to
the root, and for anomalies the mask path (empty for normal images). Training
rows are normal. Masks store class ids, which
:func:`ssflow.datasets.masks.binarize` reads as defect wherever they are not 0.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ssflow.datasets.listing import missing_mask, require_category, require_records, require_root
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord
from ssflow.errors import UserInputError

TITLE = "VisA"
SPLIT_FILE = Path("split_csv") / "1cls.csv"
COLUMNS = ("object", "split", "label", "image", "mask")
DEFECT = "anomaly"
_LABELS = {"normal": 0, "anomaly": 1}


@dataclass(frozen=True)
class SplitRow:
    line: int  # 1-based line number in the split file
    category: str
    split: str  # train | test
    label: int
    image: str
    mask: str


def _split_file(root: Path) -> Path:
    require_root(root, TITLE)
    path = root / SPLIT_FILE
    if not path.is_file():
        hint = f"; {root} looks like one category, pass its parent" if (root / "Data" / "Images").is_dir() else ""
        raise UserInputError(
            f"no {TITLE} split file at {path}: expected the archive as distributed, {root}/<category>/Data/Images/"
            f"{{Normal,Anomaly}} beside {root}/{SPLIT_FILE.as_posix()}{hint}"
        )
    return path


def read_split(path: Path) -> list[SplitRow]:
    """Parse ``1cls.csv``; a malformed row raises naming the file, line and column."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        lines = list(csv.reader(handle))
    if not lines or tuple(field.strip() for field in lines[0][:5]) != COLUMNS:
        raise UserInputError(f"{path} line 1: expected the header {','.join(COLUMNS)}")
    rows = []
    for number, fields in enumerate(lines[1:], start=2):
        if not any(field.strip() for field in fields):
            continue
        fields = [field.strip() for field in fields] + [""] * (5 - len(fields))
        category, split, label, image, mask = fields[:5]
        if split not in ("train", "test"):
            raise UserInputError(f"{path} line {number}, column 'split': got {split!r}, expected train or test")
        if label not in _LABELS or (split == "train" and label != "normal"):
            expected = "normal (training rows)" if split == "train" else "normal or anomaly"
            raise UserInputError(f"{path} line {number}, column 'label': got {label!r}, expected {expected}")
        rows.append(SplitRow(number, category, split, _LABELS[label], image, mask))
    return rows


def list_visa_categories(root: Path) -> list[str]:
    """The categories named in ``split_csv/1cls.csv``, sorted."""
    path = _split_file(root)
    found = sorted({row.category for row in read_split(path)})
    if not found:
        raise UserInputError(f"{path} lists no images: expected rows 'object,split,label,image,mask'")
    return found


def scan_visa(root: Path, category: str) -> CategoryData:
    """Records of one VisA category from the split file; every anomaly needs its mask file.

    Raises:
        UserInputError: unknown category, a listed file that does not exist
            (named with its line and column), or an anomaly without a mask.
    """
    path = _split_file(root)
    rows = read_split(path)
    require_category(category, sorted({row.category for row in rows}), TITLE, root)
    train, test = [], []
    for row in (row for row in rows if row.category == category):
        image = _listed_file(root, path, row, "image", row.image)
        if row.label == 0:
            (train if row.split == "train" else test).append(ImageRecord(image, None, 0, GOOD))
            continue
        if not row.mask:
            raise missing_mask(image, f"a mask path in column 'mask' on line {row.line} of {path}")
        test.append(ImageRecord(image, _listed_file(root, path, row, "mask", row.mask), 1, DEFECT))
    require_records(train, "training", category, f"'{category},train,normal,...' rows in {path}")
    return CategoryData(dataset="visa", category=category, root=root, train=tuple(train), test=tuple(test))


def _listed_file(root: Path, split_file: Path, row: SplitRow, column: str, relative: str) -> Path:
    file = root / relative
    if not file.is_file():
        raise UserInputError(f"{split_file} line {row.line}, column '{column}': {file} is not a file; "
                             "is the archive fully unpacked?")
    return file
