"""Portfolios: learned from hand-built result frames by greedy cover, written and read back as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from results.portfolio import build_portfolio, read_portfolio, write_portfolio
from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError

WIDE = {"hp.flow.hidden_channels": 96, "hp.train.lr": 4e-3}
DEEP = {"hp.flow.hidden_channels": 64, "hp.train.lr": 2e-3}
ODD = {"hp.flow.hidden_channels": 32, "hp.train.lr": 1e-3}


def trial(category: str, trial_id: str, objective: float, config: dict[str, Any], status: str = "finished",
          **extra: Any) -> list[dict[str, Any]]:
    """A trial's one epoch row and its final row, with per-category columns a portfolio must ignore."""
    row = {"experiment": "e", "dataset": "d", "category": category, "trial_id": trial_id, "status": "running",
           "epoch": 3, "selection_objective": objective, "role": "search", "parent_trial": "",
           "hp.data.category": category, "hp.seed": 0, "hp.train.epochs": 3,
           "written_at": pd.Timestamp("2024-01-01", tz="UTC"), **config, **extra}
    return [row, {**row, "status": status, "written_at": row["written_at"] + pd.Timedelta(seconds=1)}]


def frame(*trials: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([row for rows in trials for row in rows])


def test_the_config_near_best_on_most_categories_comes_first_then_the_rest_are_covered() -> None:
    rows = frame(
        trial("a", "a-0", 0.90, WIDE), trial("a", "a-1", 0.80, DEEP),
        trial("b", "b-0", 0.85, DEEP), trial("b", "b-1", 0.846, WIDE),  # WIDE within tolerance of b's best
        trial("c", "c-0", 0.70, ODD), trial("c", "c-1", 0.60, WIDE),
        trial("d", "d-0", 0.99, WIDE, status="pruned"),  # pruned: judged on nothing
    )
    portfolio = build_portfolio(rows, size=5, tolerance=0.01)
    assert [entry["values"] for entry in portfolio] == [
        {"flow.hidden_channels": 96, "train.lr": 4e-3}, {"flow.hidden_channels": 32, "train.lr": 1e-3}]
    assert portfolio[0]["covers"] == ["e/d/a", "e/d/b"] and portfolio[1]["covers"] == ["e/d/c"]
    assert portfolio[0]["mean_shortfall"] == pytest.approx(0.002)
    assert build_portfolio(rows, size=1, tolerance=0.01)[0]["values"]["flow.hidden_channels"] == 96
    # With no tolerance each study's own best is needed.
    assert len(build_portfolio(rows, size=5, tolerance=0.0)) == 3


def test_a_config_run_over_seeds_is_judged_by_its_mean() -> None:
    rows = frame(
        trial("a", "a-0", 0.90, WIDE), trial("a", "a-0-s1", 0.70, WIDE, role="finalist", parent_trial="a-0"),
        trial("a", "a-1", 0.85, DEEP),
    )
    assert build_portfolio(rows, size=1, tolerance=0.01)[0]["values"]["flow.hidden_channels"] == 64


def test_no_finished_trial_is_one_line() -> None:
    with pytest.raises(UserInputError, match="no finished trial to learn a portfolio from"):
        build_portfolio(frame(trial("a", "a-0", 0.9, WIDE, status="pruned")), size=3, tolerance=0.01)


def test_a_written_portfolio_reads_back_in_order(tmp_path: Path) -> None:
    configs = [{"values": {"flow.hidden_channels": 96, "train.lr": 0.004}, "covers": ["e/d/a"],
                "mean_shortfall": 0.0},
               {"values": {"flow.hidden_channels": 32}, "covers": ["e/d/c"], "mean_shortfall": 0.0}]
    path = tmp_path / "portfolio.yaml"
    write_portfolio(path, configs, ["e"], 0.01)
    assert read_portfolio(path, SSFlowConfig()) == [config["values"] for config in configs]
    assert yaml.safe_load(path.read_text())["learned_from"]["experiments"] == ["e"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("a: [1", "not valid YAML"),
    (b"\x89PNG\r\n\x1a\n\x00\xff", "not a YAML text file"),
    ("format: other\nconfigs: []", "not a portfolio"),
    ("format: ssflow-portfolio/1\nconfigs: []", "has no configs"),
    ("format: ssflow-portfolio/1\nconfigs: [{covers: []}]", "config 1 has no 'values'"),
    ("format: ssflow-portfolio/1\nconfigs: [{values: {data.category: x}}]", "config 1 sets data.category"),
    ("format: ssflow-portfolio/1\nconfigs: [{values: {flow.widht: 3}}]", "config 1: .*flow.widht"),
    ("format: ssflow-portfolio/1\nconfigs: [{values: {train.lr: -1}}]", "config 1: .*train.lr"),
])
def test_a_bad_portfolio_file_is_one_line_naming_it(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "p.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(UserInputError, match=message) as error:
        read_portfolio(path, SSFlowConfig())
    assert str(error.value).startswith(f"--portfolio {path}") and "\n" not in str(error.value)


def test_the_shipped_portfolio_reads_and_fits_the_default_space() -> None:
    from search.options import SweepOptions
    from search.space_checks import portfolio_notes
    from spaces.space import load_space

    path = Path(__file__).resolve().parents[2] / "spaces" / "portfolios" / "demo-hard.yaml"
    configs = read_portfolio(path, SSFlowConfig())
    assert 1 <= len(configs) <= 4
    options = SweepOptions(base=SSFlowConfig(), space=load_space("default"), name="s", storage="/tmp",
                           portfolio=tuple(configs))
    # Learned from a space holding the default space's ranges: nothing is replaced or out of range.
    assert not any("choices" in note or "range" in note for note in portfolio_notes(options))
