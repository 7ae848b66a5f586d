"""MVTec AD 2 reader (Heckler-Kram et al., "The MVTec AD 2 Dataset: Advanced Scenarios for
Unsupervised Anomaly Detection", arXiv:2503.21622, 2025): its public test set, which has masks.

Layout as distributed::

    <root>/<category>/train/good/*.png
    <root>/<category>/validation/good/*.png              (normal; not used here)
    <root>/<category>/test_public/good/*.png
    <root>/<category>/test_public/bad/*.png
    <root>/<category>/test_public/ground_truth/bad/<stem>_mask.png   (0/255)
    <root>/<category>/test_private/, test_private_mixed/   (no public ground truth)

Categories: can, fabric, fruit_jelly, rice, sheet_metal, vial, wallplugs,
walnuts. The private test sets are scored only by MVTec's evaluation server,
so runs here select and report on halves of ``test_public``. The mixed-lighting
split is read as the category's shifted test set (``CategoryData.shifted_test``:
``train`` reports its metrics beside the regular ones) where it is laid out
like ``test_public`` (``good/``, ``bad/``, ``ground_truth/bad/``: labelled);
as distributed, a flat folder of unlabelled images, it is left alone.
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

TITLE = "MVTec AD 2"
PUBLIC_TEST = "test_public"
MIXED_LIGHTING_TEST = "test_private_mixed"
DEFECT = "bad"


def _is_category(folder: Path) -> bool:
    return (folder / "train" / GOOD).is_dir() and (folder / PUBLIC_TEST).is_dir()


def list_mvtec_ad2_categories(root: Path) -> list[str]:
    """Names of the folders under ``root`` that hold ``train/good`` and ``test_public``, sorted."""
    require_root(root, TITLE)
    expected = f"{root}/<category>/train/good/*.png and {root}/<category>/{PUBLIC_TEST}/{{good,bad}}/*.png"
    return categories_under(root, _is_category, f"{TITLE} categories", expected)


def scan_mvtec_ad2(root: Path, category: str) -> CategoryData:
    """Records of one category: ``train/good`` for training, ``test_public`` for testing.

    Raises:
        UserInputError: unknown category, no training images, or a bad image without its mask.
    """
    require_category(category, list_mvtec_ad2_categories(root), TITLE, root)
    folder = root / category
    train = tuple(ImageRecord(path, None, 0, GOOD) for path in list_images(folder / "train" / GOOD))
    require_records(train, "training", category, f"{folder}/train/good/*.png")
    public = folder / PUBLIC_TEST
    test = _labelled_test(public)
    require_records(test, "test", category, f"{public}/good/*.png and {public}/{DEFECT}/*.png")
    mixed = folder / MIXED_LIGHTING_TEST
    shifted = _labelled_test(mixed) if (mixed / GOOD).is_dir() or (mixed / DEFECT).is_dir() else ()
    return CategoryData(dataset="mvtec-ad2", category=category, root=root, train=train, test=test,
                        shifted_test=shifted)


def _labelled_test(folder: Path) -> tuple[ImageRecord, ...]:
    """``folder/good``, ``folder/bad`` and the masks in ``folder/ground_truth/bad`` (test_public's layout)."""
    test = [ImageRecord(path, None, 0, GOOD) for path in list_images(folder / GOOD)]
    masks = index_by_stem(folder / "ground_truth" / DEFECT)
    for path in list_images(folder / DEFECT):
        mask = masks.get(f"{path.stem}_mask")
        if mask is None:
            raise missing_mask(path, f"{folder}/ground_truth/{DEFECT}/{path.stem}_mask.png")
        test.append(ImageRecord(path, mask, 1, DEFECT))
    return tuple(test)
