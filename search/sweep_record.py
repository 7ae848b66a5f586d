"""The sweep record: the settings a sweep was started with, checked again on ``--resume``.

A resumed sweep continues the same studies: its searcher history, ASHA rungs
and trials only mean something under the space, budget, pruning settings,
seed, dataset, objective and base config they were made with. Those are
written to ``<storage>/ray/<name>/sweep.json`` when a sweep starts; a resume
that asks for another value of any of them is refused in one line naming the
flag, its stored value and the new one. Settings that may change on resume
(``--num-samples``, ``--concurrency``, resources, retries, finalists) are not
compared. Which is which: the ``resume`` column of :data:`search.sweep_flags.SWEEP_FLAGS`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.fs as pafs

from search.options import SweepOptions, experiment_path
from search.sweep_flags import fixed_on_resume
from ssflow.durable import sync_file
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_to_flat
from ssflow.redaction import redacted, redacted_text

FORMAT = "ssflow-sweep/1"
FILE_NAME = "sweep.json"
BUDGET_FILE = "budget.json"  # what a time-budgeted run bought (search.time_budget.TimeBudget.record)
# Base-config keys set per category or derived from flags compared on their own.
_PER_CATEGORY_KEYS = ("data.category", "train.epochs")


def base_settings(options: SweepOptions) -> dict[str, Any]:
    """The base config's flat keys (``--config`` and ``--set``), per-category keys left out."""
    flat = config_to_flat(options.base)
    return {key: value for key, value in flat.items() if key not in _PER_CATEGORY_KEYS}


def _open(path: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in path:
        return pafs.LocalFileSystem(), path
    try:
        return pafs.FileSystem.from_uri(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserInputError(f"--storage {redacted(path)}: cannot open it ({redacted_text(first, path)})") from None


def _stored_file(folder: str, file_name: str) -> tuple[pafs.FileSystem, str] | None:
    """The filesystem and path of ``file_name`` in experiment ``folder``; None when it does not exist."""
    filesystem, local_folder = _open(folder)
    path = f"{local_folder}/{file_name}"
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    return filesystem, path


def _read_json(folder: str, file_name: str) -> tuple[str, Any] | None:
    """``file_name``'s path and parsed JSON; None when missing.

    Raises:
        json.JSONDecodeError: the file is not JSON (each caller decides what that costs).
    """
    stored = _stored_file(folder, file_name)
    if stored is None:
        return None
    filesystem, path = stored
    with filesystem.open_input_stream(path) as stream:
        return path, json.loads(stream.read().decode())


def read_sweep_record(options: SweepOptions) -> dict[str, Any] | None:
    """The stored sweep record of ``options.name``; None when the sweep has none (never started).

    Raises:
        UserInputError: the record is damaged or is not a sweep record.
    """
    folder = experiment_path(options)
    try:
        stored = _read_json(folder, FILE_NAME)
    except json.JSONDecodeError as error:
        raise UserInputError(f"{folder}/{FILE_NAME}: not a readable sweep record ({error.msg}); "
                             "start a new sweep with another --name") from None
    if stored is None:
        return None
    path, content = stored
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise UserInputError(f"{path}: not a sweep record (expected format {FORMAT})")
    return content


def write_sweep_record(options: SweepOptions, categories: list[str]) -> None:
    """Record the sweep's fixed settings and categories (atomically: temporary file, then a rename)."""
    content = {"format": FORMAT, "name": options.name, "fixed": fixed_on_resume(options),
               "base": base_settings(options), "categories": categories}
    _write_json(options, FILE_NAME, content)


def write_budget(options: SweepOptions, record: Mapping[str, Any]) -> None:
    """Record what the last time-budgeted run of the sweep bought (``budget.json``; a resume replaces it)."""
    _write_json(options, BUDGET_FILE, dict(record))


def remove_budget(options: SweepOptions) -> None:
    """Remove the sweep's ``budget.json``, if any (its latest run had no time budget)."""
    stored = _stored_file(experiment_path(options), BUDGET_FILE)
    if stored is not None:
        filesystem, path = stored
        filesystem.delete_file(path)


def read_budget(storage: str, name: str) -> dict[str, Any] | None:
    """The ``budget.json`` of sweep ``name`` in ``storage``; None when it ran without a time budget."""
    try:
        stored = _read_json(f"{storage.rstrip('/')}/ray/{name}", BUDGET_FILE)
    except json.JSONDecodeError:
        return None  # a damaged record only costs show its budget line
    content = stored[1] if stored is not None else None
    return content if isinstance(content, dict) else None


def _write_json(options: SweepOptions, file_name: str, content: Mapping[str, Any]) -> None:
    """Write ``content`` to ``file_name`` in the experiment folder atomically (temporary file, then a rename)."""
    filesystem, folder = _open(experiment_path(options))
    filesystem.create_dir(folder, recursive=True)
    temporary = f"{folder}/.{file_name}.{uuid.uuid4().hex}.tmp"
    with filesystem.open_output_stream(temporary) as stream:
        stream.write(json.dumps(content, indent=2, sort_keys=True).encode())
    if isinstance(filesystem, pafs.LocalFileSystem):
        sync_file(temporary)
    filesystem.move(temporary, f"{folder}/{file_name}")


def check_resume(options: SweepOptions, stored: Mapping[str, Any]) -> None:
    """Raise ``UserInputError`` naming the first flag whose value differs from the stored one."""
    for flag, value in fixed_on_resume(options).items():
        before = stored.get("fixed", {}).get(flag)
        if before != value:
            raise UserInputError(
                f"{flag} {_shown(value)}: sweep '{options.name}' was started with {_shown(before)}, and a resumed "
                "sweep keeps it; resume with the same value or start a new sweep with another --name")
    stored_base = stored.get("base", {})
    for key, value in base_settings(options).items():
        before = stored_base.get(key, value)  # keys added by a newer version keep their default
        if before != value:
            raise UserInputError(
                f"--set {key}={_shown(value)}: sweep '{options.name}' was started with {key}={_shown(before)}, "
                "and a resumed sweep keeps its base config; resume with the same --config/--set or start a new "
                "sweep with another --name")


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
