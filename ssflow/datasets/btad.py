"""BTAD reader (``BTech_Dataset_transformed``); the generated ``demo`` dataset uses it too.

Layout as distributed::

    <root>/<product>/train/ok/*
    <root>/<product>/test/ok/*
    <root>/<product>/test/ko/*
    <root>/<product>/ground_truth/ko/*

Products are ``01``, ``02`` and ``03``. Images and masks are .png or .bmp
depending on the product, so a mask is found by the stem of its image.
"""

from __future__ import annotations

from pathlib import Path

from ssflow.datasets.listing import (
    index_by_stem,
    list_images,
    missing_mask,
    require_category,
    require_records,
    require_root,
)
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord
from ssflow.errors import UserInputError

TITLE = "BTAD"
ARCHIVE_FOLDER = "BTech_Dataset_transformed"  # what the official archive unpacks to
DEFECT = "ko"


def list_btad_categories(root: Path, *, title: str = TITLE) -> list[str]:
    """Names of the folders under ``root`` that hold ``train/ok``, sorted; ``title`` names the dataset in errors."""
    require_root(root, title)
    found = sorted(path.name for path in root.iterdir() if (path / "train" / "ok").is_dir())
    if not found:
        hint = ""
        if (root / ARCHIVE_FOLDER).is_dir():
            hint = f"; pass {root / ARCHIVE_FOLDER} instead"
        elif (root / "train" / "ok").is_dir():
            hint = f"; {root} looks like one product, pass its parent"
        raise UserInputError(f"no {title} products under {root}: expected {root}/<product>/train/ok/*.png{hint}")
    return found


def scan_btad(root: Path, category: str, *, title: str = TITLE) -> CategoryData:
    """Records of one BTAD product; every ``test/ko`` image must have a mask of the same stem."""
    require_category(category, list_btad_categories(root, title=title), title, root)
    folder = root / category
    train = tuple(
        ImageRecord(image_path=path, mask_path=None, label=0, defect=GOOD)
        for path in list_images(folder / "train" / "ok")
    )
    require_records(train, "training", category, f"{folder}/train/ok/*.png")
    test = [
        ImageRecord(image_path=path, mask_path=None, label=0, defect=GOOD)
        for path in list_images(folder / "test" / "ok")
    ]
    masks = index_by_stem(folder / "ground_truth" / DEFECT)
    for path in list_images(folder / "test" / DEFECT):
        mask = masks.get(path.stem)
        if mask is None:
            raise missing_mask(path, f"{folder}/ground_truth/{DEFECT}/{path.stem}.png (or .bmp)")
        test.append(ImageRecord(image_path=path, mask_path=mask, label=1, defect=DEFECT))
    require_records(test, "test", category, f"{folder}/test/ok/* and {folder}/test/ko/*")
    return CategoryData(dataset="btad", category=category, root=root, train=train, test=tuple(test))
