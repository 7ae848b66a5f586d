"""An output folder a command shares with its user: a marker lists what the command wrote, and only that is
ever replaced or removed.

``predict --out DIR`` writes ``DIR/.ssflow-outputs.json`` naming its files and
folders. A rerun replaces what the marker names; a folder holding anything
else (the user's own files, another tool's ``predictions.csv``) is refused in
one line unless ``--force``, and even then only names the command writes are
replaced, nothing else is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable

from ssflow.errors import UserInputError

MARKER = ".ssflow-outputs.json"
FORMAT = "ssflow-outputs/1"
LISTED = 3  # foreign names shown in the refusal


def owned_names(out: Path) -> set[str]:
    """The names ``out``'s marker lists (empty when there is none or it cannot be read: then nothing is owned)."""
    try:
        content = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("written"), list):
        return set()
    return {name for name in content["written"] if isinstance(name, str) and "/" not in name and name not in ("", "..")}


def check_owned_folder(out: Path, command: str, force: bool, flag: str = "--out") -> set[str]:
    """What ``command`` wrote in ``out`` before; refuses a folder that holds anything else.

    Raises:
        UserInputError: ``out`` holds entries the marker does not list and ``force`` is false (the first
            :data:`LISTED` are named, escaped).
    """
    if not out.is_dir():
        return set()
    owned = owned_names(out)
    foreign = sorted(entry.name for entry in out.iterdir()
                     if entry.name != MARKER and entry.name not in owned and not _leftover(entry.name, owned))
    if foreign and not force:
        shown = ", ".join(ascii(name)[1:-1] for name in foreign[:LISTED]) + (", ..." if len(foreign) > LISTED else "")
        raise UserInputError(f"{flag} {out}: holds files {command} did not write ({shown}); pick an empty or new "
                             f"folder, or pass --force to write there anyway (only {command}'s own file names are "
                             "then replaced)")
    return owned


def publish(staging: Path, out: Path, owned: set[str], last: str) -> None:
    """Move every entry of ``staging`` into ``out``, ``last`` last (its presence means the run is complete);
    entries of an earlier run (``owned``) that this one did not write are removed, nothing else is touched.

    The marker is written first with the old and new names, then with the new ones only, so a crash in
    between leaves no file of either run unowned.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = sorted(entry.name for entry in staging.iterdir())
    _write_marker(out, sorted(owned | set(written)))
    leftovers = [entry.name for entry in out.iterdir() if _leftover(entry.name, owned | set(written))]
    for name in sorted(owned - set(written)) + leftovers:
        _remove(out / name)
    for name in sorted(written, key=lambda item: item == last):
        _replace(staging / name, out / name)
    _write_marker(out, written)


def _leftover(name: str, owned: set[str]) -> bool:
    """A temporary of an interrupted publish: a marker being written, or an owned folder moved aside."""
    if name.startswith(f".{MARKER}.") and name.endswith(".tmp"):
        return True
    return name.startswith(".") and ".old-" in name and name[1:].rsplit(".old-", 1)[0] in owned


def _replace(source: Path, target: Path) -> None:
    """Swap ``source`` in for ``target`` (a file or a folder; a folder is moved aside first, then removed)."""
    if target.is_dir() and not target.is_symlink():
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
        target.replace(aside)
        source.replace(target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        source.replace(target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_marker(out: Path, names: Iterable[str]) -> None:
    """The marker, written atomically and synced before the rename that publishes it."""
    temporary = out / f".{MARKER}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "w") as stream:
        json.dump({"format": FORMAT, "written": list(names)}, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(out / MARKER)
