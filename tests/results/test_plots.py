"""Sweep plots and the helpers behind them, on hand-made result frames."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from results.plots import (
    format_value,
    infer_rungs,
    plot_hyperparameters,
    short_names,
    varying_hyperparameters,
    write_plots,
)
from results.ranking import trial_summary
from results.schema import to_table
from results.store import frame_from_table

NOW = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)


def trial(trial_id: str, status: str, objectives: list[float], category: str = "a",
          **hyperparameters: Any) -> list[dict[str, Any]]:
    hp = {f"hp.{key.replace('__', '.')}": value for key, value in hyperparameters.items()}
    rows = [{"experiment": "e", "dataset": "demo", "category": category, "trial_id": trial_id, "status": "running",
             "epoch": epoch, "selection_objective": value, "seconds": 1.0 * epoch,
             "written_at": NOW + datetime.timedelta(seconds=epoch), **hp}
            for epoch, value in enumerate(objectives, start=1)]
    return [*rows, {**rows[-1], "status": status, "written_at": NOW + datetime.timedelta(seconds=99)}]


def frame(*trials: list[dict[str, Any]]) -> pd.DataFrame:
    return frame_from_table(to_table([row for rows in trials for row in rows]))


SWEEP = frame(
    trial("t1", "finished", [0.5, 0.6, 0.7, 0.8, 0.85], flow__coupling_blocks=4, train__lr=1e-3,
          backbone__levels=[2, 3], map__score="nll"),
    trial("t2", "pruned", [0.4], flow__coupling_blocks=8, train__lr=1e-4, backbone__levels=[2, 3], map__score="nll"),
    trial("t3", "pruned", [0.5, 0.55, 0.5], flow__coupling_blocks=2, train__lr=1e-2, backbone__levels=[3],
          map__score="nll"),
    trial("t4", "failed", [0.3, 0.2], flow__coupling_blocks=16, train__lr=1e-3, backbone__levels=[3],
          map__score="nll"),
)


def test_rungs_are_the_last_epochs_of_pruned_trials() -> None:
    assert infer_rungs(trial_summary(SWEEP)) == [1, 3]


def test_varying_hyperparameters_handle_lists_and_skip_constants() -> None:
    varying = varying_hyperparameters(trial_summary(SWEEP))
    assert varying == ["hp.backbone.levels", "hp.flow.coupling_blocks", "hp.train.lr"]


def test_short_names_keep_the_section_only_when_fields_clash() -> None:
    names = short_names(["hp.flow.clamp", "hp.loss.kind", "hp.map.score", "hp.map.image_score", "hp.train.lr"])
    assert names == {"hp.flow.clamp": "clamp", "hp.loss.kind": "kind", "hp.map.score": "score",
                     "hp.map.image_score": "image_score", "hp.train.lr": "lr"}
    assert short_names(["hp.a.x", "hp.b.x"]) == {"hp.a.x": "a.x", "hp.b.x": "b.x"}


def test_format_value_is_short() -> None:
    assert [format_value(v) for v in ([2, 3], 0.000123456, True, np.int64(4), None, float("nan"), "alpha")] == [
        "2,3", "0.000123", "true", "4", "-", "-", "alpha"]


def test_write_plots_writes_readable_pngs_per_category(tmp_path: Path) -> None:
    other = frame(trial("u1", "finished", [0.1, 0.2], category="b", flow__coupling_blocks=4))
    paths = write_plots(pd.concat([SWEEP, other], ignore_index=True), tmp_path / "plots")
    # category b has nothing varying: its curves only
    assert [p.name for p in paths] == ["e__demo__a__curves.png", "e__demo__a__hyperparameters.png",
                                       "e__demo__b__curves.png"]
    for path in paths:
        picture = cv2.imread(str(path))
        assert picture is not None and picture.shape[0] > 300 and picture.shape[1] > 600
        assert picture.std() > 10  # something was drawn


def test_no_varying_hyperparameter_gives_no_scatter(tmp_path: Path) -> None:
    rows = frame(trial("u1", "finished", [0.1, 0.2], flow__coupling_blocks=4),
                 trial("u2", "finished", [0.3, 0.4], flow__coupling_blocks=4))
    assert plot_hyperparameters(rows, tmp_path / "x.png") is None
    assert not (tmp_path / "x.png").exists()
