"""The Parquet results store: many writers, atomic files, one schema.

Layout under ``root`` (a local folder or any URI ``pyarrow.fs`` opens, e.g. s3://)::

    results/dataset=<d>/category=<c>/<experiment>__<trial_id>__<kind>.parquet

``kind`` is ``e0001`` for the rows of epoch 1 (status ``running``) or ``final``
for a trial's closing status row (finished, pruned or failed). Names are
deterministic, so a trial that resumes and writes an epoch again replaces that
file instead of adding rows; no other file is ever rewritten. A file is written
under a ``.``-prefixed temporary name in the same folder and then moved into
place, so readers (which skip ``.`` and ``_`` names) never see a partial file.

Plain ``pd.read_parquet(root + "/results")`` reads the store too, but it guesses
the folder values' types: where every category looks numeric (BTAD's ``01``)
it returns numbers. :meth:`ResultStore.read` always returns strings.

A file whose columns cannot be read as the schema's types (written by another
version, or by hand with pandas) is skipped, and :meth:`ResultStore.read_checked`
says which file and column; the rest of the store still reads.
"""

from __future__ import annotations

import numbers
import os
import re
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from results.schema import PARTITION_COLUMNS, RESULT_SCHEMA, to_table, utc_now
from ssflow.durable import sync_file
from ssflow.errors import UserInputError
from ssflow.redaction import redacted, redacted_text

RESULTS_DIR = "results"
FINAL_KIND = "final"
# Names become file names and must not start with the reader's ignore prefixes.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PARTITIONING = ds.partitioning(
    pa.schema([RESULT_SCHEMA.field(name) for name in PARTITION_COLUMNS]), flavor="hive"
)


def file_kind(row: Mapping[str, Any]) -> str:
    """``e0003`` for a running row of epoch 3, ``final`` for a finished/pruned/failed row."""
    if row.get("status") != "running":
        return FINAL_KIND
    epoch = row.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(
            f"running result row of trial {row.get('trial_id')!r} needs an integer epoch >= 0, got {epoch!r}"
        )
    return f"e{int(epoch):04d}"


def relative_path(row: Mapping[str, Any]) -> str:
    """Where a row's file lives below the store root, e.g. ``results/dataset=demo/category=a/x__t1__e0001.parquet``."""
    for key in ("experiment", "trial_id"):
        value = row.get(key)
        if not isinstance(value, str) or not _NAME.fullmatch(value) or "__" in value:
            raise UserInputError(
                f"result {key} {value!r}: expected letters, digits, '.', '_' or '-', starting with a letter or"
                " digit and without '__' (it becomes part of a file name)"
            )
    folders = []
    for key in PARTITION_COLUMNS:
        value = row.get(key)
        if not isinstance(value, str) or not value:
            raise UserInputError(f"result {key} {value!r}: expected a non-empty string (it names a folder)")
        # The hive reader URI-decodes folder names, so encode them the same way.
        folders.append(f"{key}={quote(value, safe='')}")
    name = f"{row['experiment']}__{row['trial_id']}__{file_kind(row)}.parquet"
    return "/".join([RESULTS_DIR, *folders, name])


class ResultStore:
    """Per-trial, per-epoch result rows in Parquet files below ``root``.

    Safe with many concurrent writers as long as each (experiment, trial) has one
    writer at a time, which Tune guarantees.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)
        self._fs, self._base = _open_root(self.root)

    def write_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write rows, one file per (dataset, category, experiment, trial, kind); fills ``written_at``.

        Rows that share a file are written together, in order, replacing what the
        file held before.
        """
        if not rows:
            return
        now = utc_now()
        filled = [{**row, "written_at": row.get("written_at") or now} for row in rows]
        table = to_table(filled)  # validates every row before anything is written
        groups: dict[str, list[int]] = defaultdict(list)
        for index, row in enumerate(filled):
            groups[relative_path(row)].append(index)
        for path, indices in groups.items():
            part = table.take(pa.array(indices)).drop_columns(list(PARTITION_COLUMNS))
            self._write_atomic(part, f"{self._base}/{path}")

    def read(
        self, experiment: str | None = None, dataset: str | None = None, category: str | None = None
    ) -> pd.DataFrame:
        """All rows (optionally of one experiment, dataset and/or category) with the schema's columns.

        Integer columns are nullable ``Int64``, list columns hold Python lists,
        timestamps are UTC. An empty or missing store gives an empty frame.
        Unreadable files are skipped (see :meth:`read_checked`).
        """
        return self.read_checked(experiment, dataset, category)[0]

    def read_checked(
        self, experiment: str | None = None, dataset: str | None = None, category: str | None = None
    ) -> tuple[pd.DataFrame, list[str]]:
        """Like :meth:`read`, plus one note per skipped file naming it and the column that does not fit."""
        wanted = {"experiment": experiment, "dataset": dataset, "category": category}
        conditions = [ds.field(name) == value for name, value in wanted.items() if value is not None]
        dataset_ = self._dataset()
        if dataset_ is None:
            return frame_from_table(RESULT_SCHEMA.empty_table()), []
        condition = None
        for item in conditions:
            condition = item if condition is None else condition & item
        try:
            return frame_from_table(dataset_.to_table(filter=condition)), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError):
            return self._read_file_by_file(dataset_, condition)

    def _read_file_by_file(self, dataset_: ds.Dataset, condition: ds.Expression | None
                           ) -> tuple[pd.DataFrame, list[str]]:
        """The slow path, once a file did not fit: read each file alone and skip those that do not."""
        tables, notes = [], []
        for fragment in dataset_.get_fragments(filter=condition):
            try:
                column = _misfit_column(fragment)
                if column is None:
                    tables.append(fragment.to_table(schema=dataset_.schema, filter=condition))
                    continue
            except (pa.ArrowInvalid, OSError) as error:  # 0 bytes, truncated, or not Parquet at all
                first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                notes.append(f"skipped {_file_name(fragment, self._local_base())}: not a readable Parquet file "
                             f"({first.split(': ', 1)[-1] if 'Parquet input source' in first else first})")
                continue
            found = fragment.physical_schema.field(column).type
            notes.append(f"skipped {_file_name(fragment, self._local_base())}: column '{column}' holds {found}, expected "
                         f"{RESULT_SCHEMA.field(column).type} (written by another version or by hand?)")
        table = pa.concat_tables(tables) if tables else RESULT_SCHEMA.empty_table()
        return frame_from_table(table), notes

    def experiments(self) -> list[str]:
        """Names of the experiments with at least one row, sorted."""
        dataset_ = self._dataset()
        if dataset_ is None:
            return []
        try:
            names = dataset_.to_table(columns=["experiment"]).column("experiment").unique().to_pylist()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError):
            names = self.read_checked()[0]["experiment"].unique().tolist()
        return sorted(name for name in names if name is not None)

    def _local_base(self) -> str | None:
        return self._base if isinstance(self._fs, pafs.LocalFileSystem) else None

    def _dataset(self) -> ds.Dataset | None:
        folder = f"{self._base}/{RESULTS_DIR}"
        if self._fs.get_file_info(folder).type == pafs.FileType.NotFound:
            return None
        return ds.dataset(
            folder, schema=RESULT_SCHEMA, format="parquet", filesystem=self._fs, partitioning=_PARTITIONING
        )

    def _write_atomic(self, table: pa.Table, path: str) -> None:
        folder, name = path.rsplit("/", 1)
        self._fs.create_dir(folder, recursive=True)
        temporary = f"{folder}/.{name}.tmp-{uuid.uuid4().hex}"
        try:
            pq.write_table(table, temporary, filesystem=self._fs)
            if isinstance(self._fs, pafs.LocalFileSystem):
                sync_file(temporary)  # durable before it is published (object stores publish on close)
            self._fs.move(temporary, path)  # a rename locally: replaces the old file in one step
        except BaseException:
            _remove_quietly(self._fs, temporary)
            raise


def _file_name(fragment: ds.Fragment, base: str | None) -> str:
    """The fragment's path; when its name is not UTF-8 (pyarrow cannot decode it), the names in its folder
    that are not, as Python keeps them (the command line prints their bytes as ``\\xNN``); ``base``: the
    local store's root, None elsewhere."""
    try:
        return fragment.path
    except UnicodeDecodeError:
        if base is None:
            return "a file whose name is not UTF-8 (rename or remove it)"
        keys = ds.get_partition_keys(fragment.partition_expression)
        parts = [f"{key}={quote(str(keys[key]), safe='')}" for key in PARTITION_COLUMNS if key in keys]
        folder = os.path.join(base, RESULTS_DIR, *parts)
        odd = [name for name in os.listdir(os.fsencode(folder)) if not _is_utf8(name)]
        shown = ", ".join(f"{folder}/{os.fsdecode(name)}" for name in sorted(odd))  # escaped when printed
        return f"{shown or folder} (a name that is not UTF-8: rename or remove it)"


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _misfit_column(fragment: ds.Fragment) -> str | None:
    """The first column of a file that cannot be read as the schema's type; None when all fit. Only columns
    stored as another type are read (a read per column costs a file open: a whole store's worth took seconds)."""
    for field in fragment.physical_schema:
        if field.name not in RESULT_SCHEMA.names or field.type == RESULT_SCHEMA.field(field.name).type:
            continue
        try:
            fragment.to_table(columns=[field.name], schema=RESULT_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return field.name
    return None


def frame_from_table(table: pa.Table) -> pd.DataFrame:
    """A results table as pandas: nullable integers and booleans, lists as Python lists."""
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    frame = table.to_pandas(types_mapper=mapping.get)
    for field in table.schema:
        if pa.types.is_list(field.type):
            frame[field.name] = [None if value is None else value.tolist() for value in frame[field.name]]
    return frame


def _open_root(root: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in root:
        return pafs.LocalFileSystem(), Path(root).expanduser().resolve().as_posix()
    try:
        filesystem, path = pafs.FileSystem.from_uri(root)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserInputError(f"results store {redacted(root)}: cannot open it ({redacted_text(first, root)}); use a "
                             "folder path or a URI like s3://bucket/prefix") from None
    return filesystem, path.rstrip("/")


def _remove_quietly(filesystem: pafs.FileSystem, path: str) -> None:
    # Called while another error propagates; a missing temp file is expected.
    try:
        filesystem.delete_file(path)
    except OSError:
        pass
