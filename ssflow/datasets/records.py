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

    ``mask_path`` is None for normal images, and for anomalous images without
    pixel ground truth (``folder`` defect types without masks, ``manifest``
    rows without ``mask_path``): such images count for image AUROC only. The
    benchmark readers (MVTec-AD, BTAD, DAGM, VisA, MVTec AD 2) refuse an
    anomalous image without its mask.
    """

    image_path: Path
    mask_path: Path | None
    label: int  # 0 normal, 1 anomalous
    defect: str  # "good" for normal, else the defect type ("ko" for BTAD, "defect" for DAGM, "anomaly" for VisA)


@dataclass(frozen=True)
class CategoryData:
    """All records of one category; ``root`` is the dataset root (or manifest file) it was read from."""

    dataset: str
    category: str
    root: Path
    train: tuple[ImageRecord, ...]  # normal training images only
    test: tuple[ImageRecord, ...]
    # The same kind of test images under changed lighting, where a layout has them labelled
    # (MVTec AD 2's test_private_mixed in test_public's layout); () otherwise.
    shifted_test: tuple[ImageRecord, ...] = ()
