"""``--dataset folder``: your own images, one sub-folder of the root per category.

Each category in one of two layouts. Plain folders of good and defective parts::

    <root>/<category>/good/*                      normal images
    <root>/<category>/<defect type>/*             anomalous images, any number of defect types
    <root>/<category>/masks/<defect type>/*       optional masks, <stem>.png or <stem>_mask.png

or, when the category has a ``train/`` folder (MVTec-like, relaxed)::

    <root>/<category>/train/good/*                normal training images (or directly in train/)
    <root>/<category>/test/good/*                 normal test images
    <root>/<category>/test/<defect type>/*        anomalous test images
    <root>/<category>/masks/<defect type>/*       optional masks (or ground_truth/<defect type>/, MVTec's name)

Images are .png, .bmp, .jpg, .jpeg, .tif or .tiff in any letter case; hidden
files and ``__MACOSX/`` are skipped. A defect type without a mask folder is
image-level only; with one, every image of it needs a mask of the same stem.
A category without normal test images (the first layout always) has a seeded
share of its good images held out for testing (``data.holdout_fraction``, see
:func:`ssflow.datasets.prepared.split_category`). Layout modelled on anomalib's ``Folder``
datamodule (normal, abnormal and mask folders), one folder per defect type.
"""

from __future__ import annotations

from pathlib import Path

from ssflow.datasets.listing import (
    categories_under,
    few_names,
    index_by_stem,
    list_images,
    require_category,
    require_records,
    visible_folders,
)
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord
from ssflow.errors import SettingError, UserInputError

TITLE = "folder"
TRAIN, TEST = "train", "test"
MASK_FOLDERS = ("masks", "ground_truth")
MASK_SUFFIX = "_mask"
NEEDS = ("the folder that holds one sub-folder per category, each with good/ and a folder per defect type "
         "(or train/ and test/)")


def require_folder_root(root: Path) -> None:
    """Raise when ``root`` is not a folder."""
    if root.is_file():
        hint = "; a .csv or .parquet list of images is read with {data.dataset} manifest" \
            if root.suffix.lower() in (".csv", ".parquet", ".pq") else ""
        raise SettingError("data.root", root, f"a file, not a folder; dataset folder takes {NEEDS}{hint}")
    if not root.is_dir():
        raise SettingError("data.root", root, f"folder dataset root not found: looked in {root.absolute()}; "
                                              f"give {NEEDS}")


def _is_category(folder: Path) -> bool:
    return (folder / GOOD).is_dir() or (folder / TRAIN).is_dir()


def list_folder_categories(root: Path) -> list[str]:
    """Names of the visible folders under ``root`` that hold ``good/`` or ``train/``, sorted."""
    require_folder_root(root)
    return categories_under(root, _is_category, "categories",
                            f"{root}/<category>/good/* beside {root}/<category>/<defect type>/*, or "
                            f"{root}/<category>/train/ and test/")


def scan_folder(root: Path, category: str) -> CategoryData:
    """Records of one category in either layout; see the module docstring.

    Raises:
        UserInputError: unknown category, both layouts at once, no good
            images, duplicate stems, missing or ambiguous masks.
    """
    require_category(category, list_folder_categories(root), TITLE, root,
                     layout="a good/ folder of normal images (names are case-sensitive), or train/ and test/ folders")
    folder = root / category
    masks = _mask_root(folder)
    if (folder / TRAIN).is_dir():
        train_folder, defects_in = _train_folder(folder), folder / TEST
        normal_test = list_images(folder / TEST / GOOD)
        expected = f"{folder}/train/good/* (or images directly in {folder}/train)"
    else:
        train_folder, defects_in, normal_test = folder / GOOD, folder, []
        expected = f"{folder}/good/*"
    train = tuple(ImageRecord(path, None, 0, GOOD) for path in list_images(train_folder))
    require_records(train, "training", category, expected)
    test = [ImageRecord(path, None, 0, GOOD) for path in normal_test]
    reserved = {GOOD, TRAIN, TEST, *MASK_FOLDERS}
    defect_folders = [sub for sub in visible_folders(defects_in) if sub.name not in reserved]
    if masks:
        _require_matching_mask_folders(masks, defects_in, [sub.name for sub in defect_folders])
    for defect_folder in defect_folders:
        test.extend(_defect_records(defect_folder, masks / defect_folder.name if masks else None))
    return CategoryData(dataset="folder", category=category, root=root, train=train, test=tuple(test))


def _train_folder(folder: Path) -> Path:
    if (folder / GOOD).is_dir():
        raise UserInputError(f"{folder} holds both good/ and train/: use good/ beside defect folders, "
                             "or train/ and test/, not both")
    train = folder / TRAIN
    others = [sub.name for sub in visible_folders(train) if sub.name != GOOD]
    if others:
        raise UserInputError(f"{train} holds {', '.join(others)}/: training images are normal only; put them "
                             f"in {train}/good/ and defective ones in {folder}/test/<defect type>/")
    return train / GOOD if (train / GOOD).is_dir() else train


def _mask_root(folder: Path) -> Path | None:
    present = [folder / name for name in MASK_FOLDERS if (folder / name).is_dir()]
    if len(present) > 1:
        raise UserInputError(f"{folder} holds both masks/ and ground_truth/: keep the masks in one of them")
    return present[0] if present else None


def _require_matching_mask_folders(masks: Path, defects_in: Path, defects: list[str]) -> None:
    """Refuse mask folders named after no defect folder: their defect would silently lose its pixel metrics."""
    orphans = [sub.name for sub in visible_folders(masks) if sub.name not in {*defects, GOOD}]
    if orphans:
        raise UserInputError(
            f"{masks}/{orphans[0]}/: no defect folder {defects_in}/{orphans[0]}/ for these masks "
            f"(defect folders: {', '.join(defects) or 'none'}); a mask folder takes its defect folder's exact name"
            + (f"; also unmatched: {', '.join(orphans[1:])}" if len(orphans) > 1 else ""))


def _refuse_masks_among_images(images: Path, paths: list[Path]) -> None:
    """Masks saved beside their images, or a mask folder beside the defect folders, would be scored as defects."""
    category = images.parent.parent if images.parent.name == TEST else images.parent
    name = images.name.lower()
    if name.endswith(("_mask", "_masks")) or name == "mask":
        defect = images.name[:-len("_masks")] if name.endswith("_masks") else images.name[:-len("_mask")]
        raise UserInputError(f"{images}/ looks like a mask folder, but it sits beside the defect folders and would "
                             f"be read as a defect type of its own; move its masks to "
                             f"{category / MASK_FOLDERS[0] / (defect or '<defect type>')}/")
    stems = {path.stem for path in paths}
    beside = [path.name for path in paths
              if path.stem.endswith(MASK_SUFFIX) and path.stem.removesuffix(MASK_SUFFIX) in stems]
    if beside:
        target = category / MASK_FOLDERS[0] / images.name
        raise UserInputError(f"{images} holds masks beside their images ({few_names(beside)}), which would be "
                             f"scored as defective images; move them to {target}/")


def _defect_records(images: Path, masks: Path | None) -> list[ImageRecord]:
    """Anomalous records of one defect folder; image-level only when ``masks`` is not a folder."""
    defect = images.name
    paths = list_images(images)
    _refuse_masks_among_images(images, paths)
    if masks is None or not masks.is_dir():
        return [ImageRecord(path, None, 1, defect) for path in paths]
    by_stem = index_by_stem(masks)
    records, missing = [], []
    for path in paths:
        candidates = [by_stem[stem] for stem in (path.stem, path.stem + MASK_SUFFIX) if stem in by_stem]
        if len(candidates) > 1:
            raise UserInputError(f"two masks for {path} in {masks}: {candidates[0].name} and {candidates[1].name}; "
                                 "keep one")
        if not candidates:
            missing.append(path.name)
            continue
        records.append(ImageRecord(path, candidates[0], 1, defect))
    if missing:
        raise UserInputError(
            f"{len(missing)} of {len(paths)} images in {images} have no mask in {masks} ({few_names(missing)}): "
            f"expected <stem>.png or <stem>{MASK_SUFFIX}.png for each, or no {masks} folder for image-level only"
        )
    return records
