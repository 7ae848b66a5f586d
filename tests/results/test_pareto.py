"""Quality against latency: the Pareto front and the best config within a latency budget."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pandas as pd
import pytest

from results.export import build_export
from results.pareto import pareto_front
from results.ranking import best_configs
from results.schema import hp_column, to_table
from results.store import frame_from_table
from ssflow.settings.config_files import config_to_nested
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat, config_to_flat

NOW = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
CONFIGS = {"A": (0.90, 30.0), "B": (0.85, 10.0), "C": (0.80, 20.0), "D": (0.70, 5.0)}


def rows(trial_id: str, objective: float, latency: float, **extra: Any) -> list[dict[str, Any]]:
    config = config_from_flat({"data.dataset": "demo", "data.category": "a", "train.epochs": 2})
    shared = {"experiment": "e", "dataset": "demo", "category": "a", "trial_id": trial_id, "epoch": 2,
              "selection_objective": objective, "latency_ms": latency, "report_image_auroc": objective,
              "report_aupro": objective, "config_json": json.dumps(config_to_nested(config)), "role": "search",
              **{hp_column(key): value for key, value in config_to_flat(config).items()}, **extra}
    return [{**shared, "status": "running", "written_at": NOW},
            {**shared, "status": "finished", "written_at": NOW + datetime.timedelta(seconds=1)}]


@pytest.fixture
def frame() -> pd.DataFrame:
    return frame_from_table(to_table([row for key, (q, ms) in CONFIGS.items() for row in rows(key, q, ms)]))


def test_front_holds_the_configs_nothing_beats_on_both_fastest_first(frame: pd.DataFrame) -> None:
    front = pareto_front(frame)
    assert front["trial_id"].tolist() == ["D", "B", "A"]  # C is slower and worse than B
    assert front["latency_ms"].tolist() == [5.0, 10.0, 30.0]


@pytest.mark.parametrize("budget, chosen", [(None, "A"), (30.0, "A"), (15.0, "B"), (8.0, "D")])
def test_best_within_a_latency_budget(frame: pd.DataFrame, budget: float | None, chosen: str) -> None:
    assert best_configs(frame, budget)["trial_id"].tolist() == [chosen]


def test_export_within_a_budget_and_none_within_it(frame: pd.DataFrame) -> None:
    content = build_export(frame, "e", "1", NOW, max_latency_ms=12.0)
    assert content.categories["a"]["trial_id"] == "B" and content.categories["a"]["latency_ms"] == 10.0
    with pytest.raises(UserInputError, match="within 2 ms.*the fastest finished config takes 5.0 ms"):
        build_export(frame, "e", "1", NOW, max_latency_ms=2.0)
