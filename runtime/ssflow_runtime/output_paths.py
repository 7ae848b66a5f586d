"""Checking where a command will write, before it does any work: mistakes cost one line, not a run."""

from __future__ import annotations

from pathlib import Path

from ssflow_runtime.errors import UserInputError


def _blocking_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder (nothing can be created below it)."""
    for parent in path.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_output_folder(path: Path, flag: str = "--out") -> None:
    """Raise ``UserInputError`` when ``path`` cannot be (or become) a folder."""
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{flag} {path}: exists and is not a folder")
    blocking = _blocking_ancestor(path)
    if blocking is not None:
        raise UserInputError(f"{flag} {path}: {blocking} is a file, so no folder can be made below it")


def check_output_file(path: Path, suffix: str, flag: str = "--out", example: str = "model") -> None:
    """Raise ``UserInputError`` when ``path`` is a folder, lies below a file, or lacks ``suffix`` (e.g. ``.onnx``);
    ``example``: the file name (without suffix) suggested inside a folder."""
    if path.is_dir():
        raise UserInputError(f"{flag} {path}: is a folder; name the file to write, e.g. {path / (example + suffix)}")
    blocking = _blocking_ancestor(path)
    if blocking is not None:
        raise UserInputError(f"{flag} {path}: {blocking} is a file, so nothing can be written below it")
    if path.suffix.lower() != suffix:
        raise UserInputError(f"{flag} {path}: expected a {suffix} file name, e.g. {path.with_suffix(suffix)}")
