"""MVTec-AD reader.

Layout as distributed::

    <root>/<category>/train/good/*.png
    <root>/<category>/test/<defect or good>/*.png
    <root>/<category>/ground_truth/<defect>/<stem>_mask.png   (0/255)
"""

from __future__ import annotations

from pathlib import Path

from ssflow.datasets.listing import (
    categories_under,
    index_by_stem,
    list_images,
    missing_mask,
    require_category,
    require_records,
    require_root,
)
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord

TITLE = "MVTec-AD"


def list_mvtec_categories(root: Path) -> list[str]:
    """Names of the folders under ``root`` that hold ``train/good``, sorted."""
    require_root(root, TITLE)
    return categories_under(root, lambda folder: (folder / "train" / GOOD).is_dir(), f"{TITLE} categories",
                            f"{root}/<category>/train/good/*.png")


def scan_mvtec(root: Path, category: str) -> CategoryData:
    """Records of one MVTec-AD category; anomalous test images must have a mask."""
    require_category(category, list_mvtec_categories(root), TITLE, root)
    folder = root / category
    train = tuple(
        ImageRecord(image_path=path, mask_path=None, label=0, defect=GOOD)
        for path in list_images(folder / "train" / GOOD)
    )
    require_records(train, "training", category, f"{folder}/train/good/*.png")
    test: list[ImageRecord] = []
    defects = sorted(path.name for path in (folder / "test").glob("*") if path.is_dir())
    for defect in defects:
        test.extend(_scan_defect(folder, defect))
    require_records(test, "test", category, f"{folder}/test/<defect or good>/*.png")
    return CategoryData(dataset="mvtec", category=category, root=root, train=train, test=tuple(test))


def _scan_defect(folder: Path, defect: str) -> list[ImageRecord]:
    images = list_images(folder / "test" / defect)
    if defect == GOOD:
        return [ImageRecord(image_path=path, mask_path=None, label=0, defect=GOOD) for path in images]
    masks = index_by_stem(folder / "ground_truth" / defect)
    records = []
    for path in images:
        mask = masks.get(f"{path.stem}_mask")
        if mask is None:
            raise missing_mask(path, f"{folder}/ground_truth/{defect}/{path.stem}_mask.png")
        records.append(ImageRecord(image_path=path, mask_path=mask, label=1, defect=defect))
    return records
