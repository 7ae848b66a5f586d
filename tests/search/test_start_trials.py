"""Which configs a category's fresh study trains first, and in what order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.options import SweepOptions
from search.start_trials import start_trials
from spaces.space import parse_space
from ssflow.settings.flat_config import config_from_flat

SPACE = parse_space({"parameters": {"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                                    "flow.coupling_blocks": {"type": "int", "low": 2, "high": 6}}}, "test", "t")
FIRST = {"train.lr": 5e-3, "flow.coupling_blocks": 3}
SECOND = {"train.lr": 8e-3, "flow.coupling_blocks": 4}


def options(tmp_path: Path, **changes: Any) -> SweepOptions:
    settings = dict(base=config_from_flat({"data.dataset": "demo", "train.lr": 2e-3}), space=SPACE, name="s",
                    storage=str(tmp_path), num_samples=8, max_epochs=4, concurrency=1, finalists=0,
                    finalist_seeds=2, portfolio=(FIRST, SECOND), portfolio_source="p.yaml")
    return SweepOptions(**{**settings, **changes})


def roles(trials) -> list[str]:
    return [trial.role for trial in trials]


def test_without_a_budget_every_portfolio_config_comes_before_the_base_config(tmp_path: Path) -> None:
    trials = start_trials(options(tmp_path), [])
    assert roles(trials) == ["portfolio", "portfolio", "base"]
    assert [trial.applied for trial in trials[:2]] == [FIRST, SECOND]
    assert [trial.source for trial in trials] == ["portfolio p.yaml #1", "portfolio p.yaml #2", "the base config"]


def test_on_a_time_budget_the_base_config_comes_second(tmp_path: Path) -> None:
    trials = start_trials(options(tmp_path, time_budget_s=60.0), [])
    assert roles(trials) == ["portfolio", "base", "portfolio"]
    assert trials[1].applied == {} and trials[1].values["train.lr"] == 2e-3


def test_a_config_already_started_is_not_started_again(tmp_path: Path) -> None:
    as_base = {"train.lr": 2e-3, "flow.coupling_blocks": options(tmp_path).base.flow.coupling_blocks}
    warm = [(FIRST, "old sweep"), (as_base, "old sweep"), ({"train.lr": 3e-4, "flow.coupling_blocks": 6}, "old")]
    trials = start_trials(options(tmp_path, portfolio=(FIRST, as_base, FIRST)), warm)
    assert roles(trials) == ["portfolio", "portfolio", "warm_start"]  # the base config was portfolio #2
    assert trials[2].applied == {"train.lr": 3e-4, "flow.coupling_blocks": 6}


def test_warm_starts_fill_at_most_a_quarter_of_the_samples(tmp_path: Path) -> None:
    warm = [({"train.lr": lr, "flow.coupling_blocks": 5}, "old") for lr in (1e-3, 3e-3, 6e-3)]
    trials = start_trials(options(tmp_path, portfolio=(), num_samples=8), warm)
    assert roles(trials) == ["base", "warm_start", "warm_start"]  # 8 // 4 = 2 warm starts
