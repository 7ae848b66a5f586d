"""Ranking trials from hand-built result frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from results.ranking import best_trials, rank_trials, trial_summary
from results.store import ResultStore


def rows_for(trial: str, objectives: list[float], final: str | None = None, category: str = "a",
             report: float = 0.5, **extra: Any) -> list[dict[str, Any]]:
    """Epoch rows 1..n with the given selection objectives, plus an optional final row."""
    rows = [
        {"experiment": "e", "dataset": "d", "category": category, "trial_id": trial, "status": "running",
         "epoch": epoch, "selection_objective": value, "report_image_auroc": report, "seconds": 2.0 * epoch,
         "written_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(seconds=epoch), **extra}
        for epoch, value in enumerate(objectives, start=1)
    ]
    if final is not None:
        rows.append({**rows[-1], "status": final, "written_at": rows[-1]["written_at"] + pd.Timedelta(seconds=1)})
    return rows


def frame(*groups: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([row for group in groups for row in group])


def test_summary_takes_last_epoch_best_value_and_final_status() -> None:
    df = frame(
        rows_for("t1", [0.6, 0.9, 0.7], final="finished", **{"hp.flow.coupling_blocks": 4}),
        rows_for("t2", [0.5, 0.8]),
    )
    summary = trial_summary(df).set_index("trial_id")
    assert summary.loc["t1", "status"] == "finished"
    assert summary.loc["t1", "last_epoch"] == 3
    assert summary.loc["t1", "selection_objective"] == 0.7  # at the last epoch, not the best
    assert summary.loc["t1", "best_selection_objective"] == 0.9
    assert summary.loc["t1", "seconds"] == 6.0
    assert summary.loc["t1", "hp.flow.coupling_blocks"] == 4
    assert summary.loc["t2", "status"] == "running"
    assert summary.loc["t2", "selection_objective"] == 0.8
    assert len(summary) == 2


def test_failed_final_row_without_metrics_keeps_the_epoch_values() -> None:
    rows = rows_for("t1", [0.6, 0.7])
    rows.append({**rows[-1], "status": "failed", "error": "diverged", "selection_objective": None,
                 "written_at": rows[-1]["written_at"] + pd.Timedelta(seconds=1)})
    summary = trial_summary(frame(rows)).iloc[0]
    assert summary["status"] == "failed" and summary["error"] == "diverged"
    assert summary["selection_objective"] == 0.7


def test_rank_orders_by_status_then_objective_per_category() -> None:
    df = frame(
        rows_for("pruned-high", [0.99], final="pruned"),
        rows_for("failed", [0.995], final="failed"),
        rows_for("fin-low", [0.7], final="finished"),
        rows_for("fin-high", [0.2, 0.9], final="finished"),
        rows_for("running", [0.95]),
        rows_for("other-cat", [0.1], final="finished", category="b"),
    )
    ranked = rank_trials(df)
    in_a = ranked[ranked["category"] == "a"]
    assert in_a["trial_id"].tolist() == ["fin-high", "fin-low", "running", "pruned-high", "failed"]
    assert in_a["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranked.loc[ranked["category"] == "b", "rank"].tolist() == [1]


def test_best_ignores_report_metrics_and_failed_trials() -> None:
    df = frame(
        rows_for("selected", [0.9], final="finished", report=0.6),
        rows_for("better-on-report", [0.8], final="finished", report=0.99),
        rows_for("only-failed", [0.9], final="failed", category="b"),
    )
    best = best_trials(df)
    assert best["trial_id"].tolist() == ["selected"]
    assert best["rank"].tolist() == [1]


def test_ranking_works_on_store_frames(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    assert trial_summary(store.read()).empty and best_trials(store.read()).empty
    rows = rows_for("t1", [0.3, 0.4], final="finished") + rows_for("t2", [0.5], final="pruned")
    store.write_rows([{**row, "hp.backbone.levels": [2, 3]} for row in rows])
    ranked = rank_trials(store.read())
    assert ranked["trial_id"].tolist() == ["t1", "t2"]
    assert ranked.loc[0, "hp.backbone.levels"] == [2, 3]
    assert ranked.loc[0, "last_epoch"] == 2


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="lacks column\\(s\\) selection_objective"):
        trial_summary(pd.DataFrame(columns=["experiment", "dataset", "category", "trial_id", "status", "epoch"]))
