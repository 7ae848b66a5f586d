"""The one Parquet schema of the results store, defined once.

Fixed columns describe a trial at one epoch (or its final status); one typed
column per config flat key, named ``hp.<flat key>`` (``hp.flow.coupling_blocks``),
holds its hyperparameters. Every table is cast to this schema before it is
written, because the dataset reader takes the first file's schema and drops or
fails on columns that differ between files.
"""

from __future__ import annotations

import datetime
import typing
from typing import Any, Mapping, Sequence

import pyarrow as pa

from ssflow.settings.flat_config import flat_keys

# diverged: the flow produced NaN/Inf or a collapsed map (a result: its reason in ``error``); failed: the trial
# crashed. Rows of older versions store a divergence as failed with an error starting "diverged".
STATUSES = ("running", "finished", "pruned", "diverged", "failed")
ENDED_WITHOUT_MODEL = ("diverged", "failed")
HP_PREFIX = "hp."
# Stored in the folder names (hive style), not inside the files: a column held
# both ways makes readers such as pandas fail to merge the two types.
PARTITION_COLUMNS = ("dataset", "category")

# The metrics of one split (ssflow.evaluation.evaluate.SplitMetrics): aupro up to FPR 0.3 (MVTec AD), aupro_05 up to
# FPR 0.05 (MVTec AD 2's AucPro_0.05; null in rows of older versions).
SPLIT_METRICS = ("image_auroc", "pixel_auroc", "aupro", "aupro_05")
SELECTION_METRICS = (*(f"selection_{name}" for name in SPLIT_METRICS), "selection_objective")
REPORT_METRICS = tuple(f"report_{name}" for name in SPLIT_METRICS)
# The synthetic validation set's metrics (ssflow.datasets.validation_set); null when a run has none.
SYNTHETIC_METRICS = tuple(f"synthetic_{name}" for name in SPLIT_METRICS)
# portfolio | base | warm_start | search | finalist (search.studies); finalists repeat the config of ``parent_trial``.
ROLES = ("portfolio", "base", "warm_start", "search", "finalist")

_UTC_MICROS = pa.timestamp("us", tz="UTC")
FIXED_FIELDS: tuple[pa.Field, ...] = (
    pa.field("experiment", pa.string()),
    pa.field("dataset", pa.string()),
    pa.field("category", pa.string()),
    pa.field("trial_id", pa.string()),
    pa.field("status", pa.string()),  # one of STATUSES
    pa.field("error", pa.string()),  # null unless failed
    pa.field("epoch", pa.int64()),
    *(pa.field(name, pa.float64()) for name in SELECTION_METRICS),
    *(pa.field(name, pa.float64()) for name in REPORT_METRICS),
    *(pa.field(name, pa.float64()) for name in SYNTHETIC_METRICS),
    pa.field("role", pa.string()),  # one of ROLES; null in rows of older versions (read as search)
    pa.field("parent_trial", pa.string()),  # a finalist's source trial; null otherwise
    pa.field("latency_ms", pa.float64()),  # inference ms per image at batch 1, measured on the trial's node
    # JSON list of the training images the trial's model scores far above the rest (ssflow.training.train_outliers),
    # written at the trial's last epoch of a full budget; null otherwise and in rows of older versions.
    pa.field("train_outliers", pa.string()),
    # The trial ran the backbone over the clean images (False: its features came from the node's cache);
    # null in rows of older versions.
    pa.field("features_computed", pa.bool_()),
    # Bootstrap replicates of the selection objective over the selection split's images, paired across trials
    # (ssflow.evaluation.split_noise), written at the trial's last epoch of a full budget; null otherwise.
    pa.field("selection_replicates", pa.list_(pa.float32())),
    pa.field("threshold", pa.float64()),  # best-F1 image-score threshold fitted on the selection split
    pa.field("report_precision", pa.float64()),  # of that threshold on the report split; null when nothing flagged
    pa.field("report_recall", pa.float64()),  # null when the report split holds no defect
    pa.field("loss", pa.float64()),
    pa.field("seconds", pa.float64()),  # trial time so far
    pa.field("epoch_seconds", pa.float64()),
    pa.field("device", pa.string()),
    pa.field("node", pa.string()),  # <hostname>/<Ray node id prefix>
    pa.field("node_ip", pa.string()),
    pa.field("started_at", _UTC_MICROS),
    pa.field("written_at", _UTC_MICROS),
    pa.field("seed", pa.int64()),
    pa.field("code_version", pa.string()),
    pa.field("config_json", pa.string()),  # the resolved config as JSON
)


def arrow_type(declared: Any) -> pa.DataType:
    """The Arrow type of a config field's declared Python type (``tuple[int, ...]`` -> list<int64>)."""
    if typing.get_origin(declared) is tuple:
        (item, _) = typing.get_args(declared)
        return pa.list_(arrow_type(item))
    scalar = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}
    if declared not in scalar:
        raise TypeError(f"no Arrow type for config type {declared!r}")
    return scalar[declared]


def hp_column(key: str) -> str:
    """The column of a config flat key: ``flow.clamp`` -> ``hp.flow.clamp``."""
    return HP_PREFIX + key


def _build_schema() -> pa.Schema:
    hp_fields = [pa.field(hp_column(key), arrow_type(declared)) for key, declared in flat_keys().items()]
    return pa.schema([*FIXED_FIELDS, *hp_fields])


RESULT_SCHEMA: pa.Schema = _build_schema()
HP_COLUMNS: tuple[str, ...] = tuple(name for name in RESULT_SCHEMA.names if name.startswith(HP_PREFIX))
# What one Parquet file holds: everything but the partition columns.
FILE_SCHEMA: pa.Schema = pa.schema([f for f in RESULT_SCHEMA if f.name not in PARTITION_COLUMNS])


def to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema = RESULT_SCHEMA) -> pa.Table:
    """Cast row dicts to ``schema``: missing keys become null, unknown keys raise ``ValueError``.

    Timestamps accept timezone-aware datetimes (naive ones are read as UTC);
    list columns accept lists or tuples. ``status``, when given, must be one of
    :data:`STATUSES`.
    """
    names = set(schema.names)
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - names)
        if unknown:
            close = [name for name in schema.names if name.endswith(unknown[0])][:1]
            hint = f"; did you mean '{close[0]}'?" if close else f"; config keys go in '{HP_PREFIX}<key>' columns"
            raise ValueError(f"result row {index}: unknown column '{unknown[0]}'{hint}")
        status = row.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"result row {index}: status {status!r} is not one of {', '.join(STATUSES)}")
    columns = [_column(field, [row.get(field.name) for row in rows]) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _column(field: pa.Field, values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as error:
        sample = next((v for v in values if v is not None), None)
        raise ValueError(
            f"result column '{field.name}': cannot store {sample!r} as {field.type} ({error})"
        ) from None


def utc_now() -> datetime.datetime:
    """The current time as a timezone-aware UTC datetime, for ``written_at``/``started_at``."""
    return datetime.datetime.now(datetime.timezone.utc)
