"""Which files are images: suffixes, hidden files, and the images named by a list of files and folders."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ssflow_runtime.errors import UserInputError

# Distributed datasets mix these (BTAD: .bmp images of 01 and 03, .bmp masks of 03);
# industrial cameras often write TIFF. Compared lower-case, so DAGM's .PNG counts too.
IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
# What archives made on macOS carry beside the real files: "._name.png" resource
# forks, ".DS_Store", and a whole "__MACOSX/" tree of them.
MACOS_FOLDER = "__MACOSX"


def is_hidden(path: Path) -> bool:
    """True for dot-files and dot-folders, and for macOS's ``__MACOSX`` archive folder."""
    return path.name.startswith(".") or path.name == MACOS_FOLDER


def is_image_file(path: Path) -> bool:
    """True for a visible file whose suffix is an image suffix, in any letter case."""
    return path.is_file() and not is_hidden(path) and path.suffix.lower() in IMAGE_SUFFIXES


def find_images(inputs: Sequence[str | Path], recursive: bool = False,
                recursive_flag: str | None = "--recursive") -> list[Path]:
    """Image files named by ``inputs``, in the given order, each file once.

    A file is taken as it is, whatever its suffix; a folder contributes its
    files with an image suffix (:data:`IMAGE_SUFFIXES`, any case), sorted by
    path, from the folder itself or, with ``recursive``, from all its subfolders.
    Inside a folder, dot-files and dot-folders and macOS's ``__MACOSX/`` are
    skipped, as the dataset readers skip them.
    """
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_file():
            found.append(item)
        elif item.is_dir():
            candidates = item.rglob("*") if recursive else item.iterdir()
            found.extend(sorted(path for path in candidates if _is_listed_image(path, item)))
        else:
            raise UserInputError(f"{item}: no such image file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        hint = f" (add {recursive_flag} for subfolders)" if recursive_flag else ""
        where = "its subfolders" if recursive else f"the folders themselves{hint}"
        raise UserInputError(f"no images found in {', '.join(map(str, inputs))}: looked for "
                             f"{', '.join(IMAGE_SUFFIXES)} files in {where}")
    return unique


def _is_listed_image(path: Path, folder: Path) -> bool:
    """A file below ``folder`` with an image suffix, not hidden and not inside a hidden folder."""
    hidden = any(is_hidden(Path(part)) for part in path.relative_to(folder).parts)
    return not hidden and path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
