"""Folder listing shared by the layout readers: image files, stem matching, checks.

Every check raises :class:`UserInputError` with one line that says where it
looked, what it expected and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from ssflow.datasets.records import ImageRecord
from ssflow.errors import SettingError, UserInputError
from ssflow_runtime.image_files import is_hidden, is_image_file

def visible_folders(folder: Path) -> list[Path]:
    """The sub-folders of ``folder`` that are not hidden (see :func:`is_hidden`), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.iterdir() if path.is_dir() and not is_hidden(path)),
                  key=lambda path: path.name)


def categories_under(root: Path, is_category: Callable[[Path], bool], what: str, expected: str) -> list[str]:
    """The names of the visible folders under ``root`` that ``is_category`` accepts, sorted.

    Raises ``UserInputError`` when there is none, saying the ``expected``
    layout, and noting when ``root`` itself looks like one category (a common
    slip: the category folder passed instead of the dataset root). ``what``
    names the categories in the message (e.g. ``MVTec AD 2 categories``).
    """
    found = [folder.name for folder in visible_folders(root) if is_category(folder)]
    if not found:
        hint = f"; {root} looks like one category, pass its parent" if is_category(root) else ""
        raise UserInputError(f"no {what} under {root}: expected {expected}{hint}")
    return found


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name; [] when it does not exist.

    Raises:
        UserInputError: two images share a stem (``0001.bmp`` beside ``0001.png``,
            what a half-done format conversion leaves): the same picture would be
            read twice, and masks could not be matched by name.
    """
    if not folder.is_dir():
        return []
    images = sorted((path for path in folder.iterdir() if is_image_file(path)), key=lambda p: p.name)
    require_unique_stems(images, folder)
    return images


def require_unique_stems(paths: Iterable[Path], folder: Path) -> None:
    """Raise naming the first two files in ``folder`` that share a stem."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise UserInputError(
                f"two files with stem '{path.stem}' in {folder}: {seen[path.stem].name} and {path.name}; "
                "keep one (a half-done format conversion leaves both), so no image is read twice and masks "
                "can be matched to images by name"
            )
        seen[path.stem] = path


def index_by_stem(folder: Path) -> dict[str, Path]:
    """Map file stem -> image file in ``folder`` (masks are matched by stem, never by suffix)."""
    return {path.stem: path for path in list_images(folder)}


def require_root(root: Path, title: str) -> None:
    """Raise when a downloaded dataset's root folder is missing."""
    if not root.is_dir():
        raise SettingError(
            "data.root", root, f"{title} data root not found: looked in {root.absolute()}; {title} must be "
            "downloaded from its official site and given as {data.root} ({data.dataset} demo works offline)")


def require_category(category: str, found: Sequence[str], title: str, root: Path, layout: str = "") -> None:
    """Raise when ``category`` is not one of the categories found under ``root``.

    A folder of that name that exists but does not hold the layout is named as
    such, with the ``layout`` a category needs (e.g. ``a good/ folder``).
    """
    if category in found:
        return
    listed = ", ".join(found) or "none"
    if (root / category).is_dir():
        needs = f": a category needs {layout}" if layout else ""
        raise UserInputError(f"{root / category} is not a {title} category{needs}; categories found: {listed}")
    raise UserInputError(f"unknown {title} category '{category}' under {root}; found: {listed}")


def require_records(records: Sequence[ImageRecord], what: str, category: str, expected: str) -> None:
    """Raise when a category has no ``what`` images (training or test)."""
    if not records:
        raise UserInputError(f"category '{category}' has no {what} images: expected {expected}")


def missing_mask(image: Path, expected: str) -> UserInputError:
    """The error for an anomalous test image whose ground-truth mask is missing."""
    return UserInputError(f"anomalous test image {image} has no mask: expected {expected}")


def few_names(names: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 4 more``: the first ``shown`` of ``names``, then how many were left out."""
    head = ", ".join(names[:shown])
    return f"{head} and {len(names) - shown} more" if len(names) > shown else head
