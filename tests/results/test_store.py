"""The Parquet results store: round trip, idempotent rewrites, filters, atomic writes."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from results.schema import RESULT_SCHEMA
from results.store import ResultStore, relative_path
from ssflow.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]
STARTED = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


def row(trial: str, epoch: int, status: str = "running", **extra: Any) -> dict[str, Any]:
    base = {
        "experiment": "exp1", "dataset": "btad", "category": "01", "trial_id": trial, "status": status,
        "epoch": epoch, "selection_objective": 0.5 + epoch / 100, "seconds": 10.0 * epoch, "started_at": STARTED,
        "hp.flow.coupling_blocks": 4, "hp.backbone.levels": [2, 3], "hp.train.lr": 1e-3, "node": "host-a",
    }
    return {**base, **extra}


def test_round_trip_keeps_types(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_rows([row("t1", 1), row("t1", 2), row("t1", 2, status="finished", config_json="{}")])
    frame = store.read()
    assert list(frame.columns) == RESULT_SCHEMA.names
    assert len(frame) == 3
    first = frame.sort_values(["epoch", "status"]).iloc[0]
    assert first["category"] == "01"  # the folder value stays a string
    assert first["epoch"] == 1 and str(frame["epoch"].dtype) == "Int64"
    assert first["hp.backbone.levels"] == [2, 3]
    assert first["hp.flow.coupling_blocks"] == 4 and first["hp.train.lr"] == pytest.approx(1e-3)
    assert first["started_at"] == pd.Timestamp(STARTED)
    assert first["written_at"].tzinfo is not None  # filled by the store
    assert pd.isna(first["report_aupro"]) and pd.isna(first["error"])
    assert sorted(frame["status"]) == ["finished", "running", "running"]


def test_rewriting_the_same_trial_and_epoch_replaces_the_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_rows([row("t1", 1, selection_objective=0.1)])
    store.write_rows([row("t1", 1, selection_objective=0.9)])  # a resumed trial writes epoch 1 again
    store.write_rows([row("t1", 1, status="pruned")])
    store.write_rows([row("t1", 1, status="pruned", error=None)])  # the final row, written twice
    frame = store.read()
    assert len(frame) == 2
    running = frame[frame["status"] == "running"]
    assert running["selection_objective"].tolist() == [0.9]
    files = sorted(p.name for p in (tmp_path / "results" / "dataset=btad" / "category=01").iterdir())
    assert files == ["exp1__t1__e0001.parquet", "exp1__t1__final.parquet"]


def test_missing_or_empty_store_reads_empty_frame_with_schema_columns(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "nothing-here")
    assert store.read().empty and list(store.read().columns) == RESULT_SCHEMA.names
    assert store.experiments() == []
    (tmp_path / "empty" / "results").mkdir(parents=True)
    assert list(ResultStore(tmp_path / "empty").read(experiment="x").columns) == RESULT_SCHEMA.names


def test_read_filters_and_experiments(tmp_path: Path) -> None:
    store = ResultStore(f"file://{tmp_path}")  # URIs go through pyarrow.fs
    store.write_rows([
        row("t1", 1),
        row("t2", 1, experiment="exp2", category="02"),
        row("t3", 1, experiment="exp2", dataset="mvtec", category="carpet"),
        row("t4", 1, experiment="exp2", dataset="mvtec", category="grid"),
    ])
    assert store.experiments() == ["exp1", "exp2"]
    assert set(store.read(experiment="exp2")["trial_id"]) == {"t2", "t3", "t4"}
    assert set(store.read(dataset="mvtec")["trial_id"]) == {"t3", "t4"}
    assert set(store.read(experiment="exp2", dataset="btad", category="02")["trial_id"]) == {"t2"}
    assert store.read(category="bottle").empty
    assert len(ResultStore(tmp_path).read()) == 4  # the same store opened as a plain folder


def test_plain_pandas_reads_the_store(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_rows([row("t1", 1, category="carpet", dataset="mvtec"), row("t2", 2, category="grid", dataset="mvtec")])
    (tmp_path / "results" / "dataset=mvtec" / "category=grid" / ".leftover.tmp-1").write_bytes(b"partial")
    frame = pd.read_parquet(str(tmp_path) + "/results")
    assert len(frame) == 2
    assert sorted(frame["category"].astype(str)) == ["carpet", "grid"]
    assert sorted(frame["epoch"]) == [1, 2]


def test_names_that_would_break_the_layout_are_rejected(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with pytest.raises(UserInputError, match=r"result experiment 'a/b'"):
        store.write_rows([row("t1", 1, experiment="a/b")])
    with pytest.raises(UserInputError, match=r"result trial_id '\.hidden'"):
        store.write_rows([row(".hidden", 1)])
    with pytest.raises(UserInputError, match=r"result category ''"):
        store.write_rows([row("t1", 1, category="")])
    with pytest.raises(ValueError, match=r"needs an integer epoch"):
        store.write_rows([{**row("t1", 1), "epoch": None}])
    assert relative_path(row("t1", 3, category="a b")) == "results/dataset=btad/category=a%20b/exp1__t1__e0003.parquet"
    store.write_rows([row("t1", 3, category="a b")])
    assert store.read(category="a b")["category"].tolist() == ["a b"]


WRITER = """
import os, sys
from results.store import ResultStore
rows = [dict(experiment="exp1", dataset="btad", category="01", trial_id="big", status="running", epoch=1,
             config_json=os.urandom(2048).hex()) for _ in range(int(sys.argv[2]))]
ResultStore(sys.argv[1]).write_rows(rows)
"""


def test_killed_writer_leaves_previous_rows_intact(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.write_rows([row("t1", 1), row("t1", 1, status="finished"), row("big", 1, selection_objective=0.25)])
    folder = tmp_path / "results" / "dataset=btad" / "category=01"
    before = store.read().sort_values(["trial_id", "status"]).reset_index(drop=True)
    # Replace big's epoch-1 file with ~160 MB of rows: a write that takes about a second.
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "40000"], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not any(name.startswith(".") for name in os.listdir(folder)):
            if writer.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"writer ended (rc={writer.returncode}) before its temporary file was seen")
            time.sleep(0.002)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(folder) if name.startswith(".")]
    assert leftovers and leftovers[0].startswith(".exp1__big__e0001.parquet.tmp-")
    after = store.read().sort_values(["trial_id", "status"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before)
    assert after.loc[after["trial_id"] == "big", "selection_objective"].tolist() == [0.25]
    assert len(pd.read_parquet(str(tmp_path) + "/results")) == 3
