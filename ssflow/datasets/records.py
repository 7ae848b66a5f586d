"""What a dataset reader returns: one record per image file, grouped per category.

Readers only scan folders; no pixel is read here (see :mod:`ssflow.datasets.images`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GOOD = "good"  # the defect name of every normal image, whatever the layout calls it


@dataclass(frozen=True)
class ImageRecord:
    """One image of a category.

    ``mask_path`` is None for normal images. The readers in this package refuse an
    anomalous test image without a mask, so None on an anomalous record only
    comes from records built by hand.
    """

    image_path: Path
    mask_path: Path | None
    label: int  # 0 normal, 1 anomalous
    defect: str  # "good" for normal, else the defect type ("ko" for BTAD, "defect" for DAGM)


@dataclass(frozen=True)
class CategoryData:
    """All records of one category; ``root`` is the dataset root it was read from."""

    dataset: str
    category: str
    root: Path
    train: tuple[ImageRecord, ...]  # normal training images only
    test: tuple[ImageRecord, ...]
