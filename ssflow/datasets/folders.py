"""Folder scanning shared by the layout readers: image files, stem matching, checks.

Every check raises :class:`UserInputError` with one line that says where it
looked, what it expected and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError

# Distributed datasets mix these (BTAD: .bmp images of 01 and 03, .bmp masks of 03).
IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg")


def is_image_file(path: Path) -> bool:
    """True for a visible file whose suffix is an image suffix, in any letter case."""
    # Archives unpacked on macOS carry "._name.png" resource forks: not images.
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name; [] when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.iterdir() if is_image_file(path)), key=lambda p: p.name)


def index_by_stem(folder: Path) -> dict[str, Path]:
    """Map file stem -> image file in ``folder`` (masks are matched by stem, never by suffix)."""
    index: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in index:
            raise UserInputError(
                f"two files with stem '{path.stem}' in {folder}: {index[path.stem].name} and {path.name}; "
                "keep one so masks can be matched to images by name"
            )
        index[path.stem] = path
    return index


def require_root(root: Path, title: str) -> None:
    """Raise when a downloaded dataset's root folder is missing."""
    if not root.is_dir():
        raise UserInputError(
            f"{title} data root not found: looked in {root.absolute()}; {title} must be downloaded by the user "
            "from its official site and passed with --data-root (--dataset demo works offline)"
        )


def require_category(category: str, found: Sequence[str], title: str, root: Path) -> None:
    """Raise when ``category`` is not one of the categories found under ``root``."""
    if category not in found:
        raise UserInputError(
            f"unknown {title} category '{category}' under {root}; found: {', '.join(found)}"
        )


def require_records(records: Sequence[ImageRecord], what: str, category: str, expected: str) -> None:
    """Raise when a category has no ``what`` images (training or test)."""
    if not records:
        raise UserInputError(f"category '{category}' has no {what} images: expected {expected}")


def missing_mask(image: Path, expected: str) -> UserInputError:
    """The error for an anomalous test image whose ground-truth mask is missing."""
    return UserInputError(f"anomalous test image {image} has no mask: expected {expected}")
