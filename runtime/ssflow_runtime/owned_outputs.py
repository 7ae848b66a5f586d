"""An output folder a command shares with its user: a marker lists every file the command wrote, and only
those are ever replaced or removed.

``predict --out DIR`` writes ``DIR/.ssflow-outputs.json`` naming its files
(``predictions.csv``, ``overlays/a/x.png``, ...). A rerun replaces or removes
only files the marker names; a folder holding any other file (the user's own
notes, another tool's ``predictions.csv``, a picture put into ``overlays/``)
is refused in one line unless ``--force``, and even then no file the command
did not write is removed: only files at the paths it writes are replaced.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path, PurePosixPath
from typing import Iterable

from ssflow_runtime.errors import UserInputError

MARKER = ".ssflow-outputs.json"
FORMAT = "ssflow-outputs/1"
LISTED = 3  # foreign files named in the refusal


def _relative_files(folder: Path) -> set[str]:
    """Every file below ``folder`` as a POSIX path relative to it."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file() or path.is_symlink()}


def _plain_relative(name: object) -> bool:
    path = PurePosixPath(str(name))
    return isinstance(name, str) and bool(name) and not path.is_absolute() and ".." not in path.parts


def owned_files(out: Path) -> set[str]:
    """The files ``out``'s marker lists (empty when there is none or it cannot be read: then nothing is owned)."""
    try:
        content = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("written"), list):
        return set()
    return {name for name in content["written"] if _plain_relative(name)}


def check_owned_folder(out: Path, command: str, force: bool, flag: str = "--out") -> set[str]:
    """What ``command`` wrote in ``out`` before; refuses a folder that holds any other file.

    Raises:
        UserInputError: ``out`` holds files the marker does not list and ``force`` is false (the first
            :data:`LISTED` are named, escaped).
    """
    if not out.is_dir():
        return set()
    owned = owned_files(out)
    foreign = sorted(name for name in _relative_files(out)
                     if name != MARKER and name not in owned and not _leftover(name))
    if foreign and not force:
        shown = ", ".join(repr(name)[1:-1] for name in foreign[:LISTED]) + (", ..." if len(foreign) > LISTED else "")
        raise UserInputError(f"{flag} {out}: holds files {command} did not write ({shown}); pick an empty or new "
                             f"folder, or pass --force to write there anyway (files at {command}'s own output "
                             "paths are then replaced, nothing else is touched)")
    return owned


def publish(staging: Path, out: Path, owned: set[str], last: str) -> None:
    """Move every file below ``staging`` to the same path below ``out``, ``last`` last (its presence means the
    run is complete); files of an earlier run (``owned``) that this one did not write are removed, nothing
    else is touched.

    The marker is written first with the old and new files, then with the new ones only, so a crash in
    between leaves no file of either run unowned.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = sorted(_relative_files(staging))
    record_owned(out, owned | set(written))
    for name in _relative_files(out):
        if _leftover(name):
            (out / name).unlink(missing_ok=True)
    for name in sorted(owned - set(written)):
        _remove(out, name)
    for name in sorted(written, key=lambda item: item == last):
        target = out / name
        if target.is_dir() and not target.is_symlink():
            raise UserInputError(f"{target}: a folder where {name} is to be written; move it away")
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(target)
    record_owned(out, written)


def record_owned(out: Path, names: Iterable[str]) -> None:
    """Write the marker listing ``names`` (atomically, synced before the rename that publishes it)."""
    temporary = out / f".{MARKER}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "w") as stream:
        json.dump({"format": FORMAT, "written": sorted(set(names))}, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(out / MARKER)


def remove_owned(folder: Path) -> None:
    """Remove every file ``folder``'s marker lists, the marker, and the folders left empty (``folder`` too)."""
    for name in owned_files(folder):
        _remove(folder, name)
    (folder / MARKER).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else lives there


def _leftover(name: str) -> bool:
    """A marker being written when an earlier run was interrupted."""
    return name.startswith(f".{MARKER}.") and name.endswith(".tmp")


def _remove(out: Path, name: str) -> None:
    """Remove ``out/name`` and the folders it leaves empty (never ``out`` itself)."""
    path = out / name
    path.unlink(missing_ok=True)
    for parent in path.parents:
        if parent == out or out not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:
            break  # not empty: something else lives there
