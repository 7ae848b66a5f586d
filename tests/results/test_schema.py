"""The one results schema: columns, types and casting rows to it."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from results.schema import FILE_SCHEMA, HP_COLUMNS, RESULT_SCHEMA, STATUSES, hp_column, to_table
from ssflow.settings.flat_config import flat_keys


def test_one_typed_column_per_config_key() -> None:
    assert len(HP_COLUMNS) == len(flat_keys())
    assert RESULT_SCHEMA.field("hp.flow.coupling_blocks").type == pa.int64()
    assert RESULT_SCHEMA.field("hp.flow.clamp").type == pa.float64()
    assert RESULT_SCHEMA.field("hp.flow.block_pattern").type == pa.string()
    assert RESULT_SCHEMA.field("hp.backbone.levels").type == pa.list_(pa.int64())
    assert RESULT_SCHEMA.field("hp.seed").type == pa.int64()
    assert hp_column("train.lr") in RESULT_SCHEMA.names


def test_fixed_columns_and_types() -> None:
    utc = pa.timestamp("us", tz="UTC")
    expected = {
        "experiment": pa.string(), "dataset": pa.string(), "category": pa.string(), "trial_id": pa.string(),
        "status": pa.string(), "error": pa.string(), "epoch": pa.int64(), "selection_objective": pa.float64(),
        "selection_image_auroc": pa.float64(), "selection_pixel_auroc": pa.float64(), "selection_aupro": pa.float64(),
        "report_image_auroc": pa.float64(), "report_pixel_auroc": pa.float64(), "report_aupro": pa.float64(),
        "loss": pa.float64(), "seconds": pa.float64(), "epoch_seconds": pa.float64(), "device": pa.string(),
        "node": pa.string(), "node_ip": pa.string(), "started_at": utc, "written_at": utc, "seed": pa.int64(),
        "code_version": pa.string(), "config_json": pa.string(), "synthetic_image_auroc": pa.float64(),
        "synthetic_pixel_auroc": pa.float64(), "synthetic_aupro": pa.float64(), "role": pa.string(),
        "parent_trial": pa.string(), "latency_ms": pa.float64(), "threshold": pa.float64(),
        "report_precision": pa.float64(), "report_recall": pa.float64(),
    }
    for name, arrow_type in expected.items():
        assert RESULT_SCHEMA.field(name).type == arrow_type, name
    assert STATUSES == ("running", "finished", "pruned", "diverged", "failed")
    assert "dataset" not in FILE_SCHEMA.names and "category" not in FILE_SCHEMA.names


def test_to_table_casts_rows_and_fills_missing_with_null() -> None:
    started = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    table = to_table([
        {"experiment": "e", "status": "running", "epoch": 1, "loss": 3, "started_at": started,
         "hp.backbone.levels": (2, 3), "hp.flow.clamp": 2},
        {"experiment": "e", "status": "failed", "error": "boom"},
    ])
    assert table.schema == RESULT_SCHEMA
    rows = table.to_pylist()
    assert rows[0]["loss"] == 3.0 and isinstance(rows[0]["loss"], float)
    assert rows[0]["hp.backbone.levels"] == [2, 3]
    assert rows[0]["started_at"] == datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
    assert rows[1]["epoch"] is None and rows[1]["hp.backbone.levels"] is None and rows[0]["error"] is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"flow.clamp": 2.0}, r"row 0: unknown column 'flow\.clamp'; did you mean 'hp\.flow\.clamp'\?"),
        ({"colour": "red"}, r"unknown column 'colour'; config keys go in 'hp\.<key>' columns"),
        ({"status": "done"}, r"status 'done' is not one of running, finished, pruned, diverged, failed"),
        ({"epoch": "one"}, r"result column 'epoch': cannot store 'one' as int64"),
        ({"hp.backbone.levels": [2, "x"]}, r"result column 'hp\.backbone\.levels'"),
    ],
)
def test_to_table_rejects_bad_rows(row: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_table([row])
