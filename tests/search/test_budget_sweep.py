"""Real sweeps on a time budget and from a portfolio: local Ray, Optuna in SQLite, a Parquet store."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml

from cli.main import main
from results.store import ResultStore
from search.studies import study_name

pytestmark = pytest.mark.slow

BUDGET_S = 60
COMMON = ["--dataset", "btad", "--categories", "wood", "fabric", "--set", "backbone.image_size=64",
          "--max-epochs", "3", "--concurrency", "2", "--seed", "2"]


@pytest.fixture(scope="module")
def budget_sweep(small_demo_root, tmp_path_factory):
    storage = tmp_path_factory.mktemp("budget")
    code = main([*COMMON, "--data-root", str(small_demo_root), "--time-budget", f"{BUDGET_S}s",
                 "--storage", str(storage), "--name", "b"])
    return code, storage


def test_a_budgeted_sweep_ends_within_its_budget_and_every_category_can_be_exported(budget_sweep, tmp_path,
                                                                                    capsys):
    code, storage = budget_sweep
    assert code == 0
    record = json.loads((storage / "ray" / "b" / "budget.json").read_text())
    assert record["budget_s"] == BUDGET_S
    assert record["sweep_s"] <= 1.1 * BUDGET_S  # the sweep's own time; start-up is counted apart
    assert record["startup_s"] > 0
    assert set(record["categories"]) == {"wood", "fabric"}
    assert all(spent["trials"] >= 2 for spent in record["categories"].values())
    assert main(["export", "--storage", str(storage), "--name", "b", "--out", str(tmp_path / "best.yaml")]) == 0
    exported = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert set(exported["categories"]) == {"wood", "fabric"}
    capsys.readouterr()
    assert main(["show", "--storage", str(storage), "--name", "b"]) == 0
    out = capsys.readouterr().out
    assert "b: time budget 1 min: the sweep ran" in out and "start-up before it" in out
    assert "wood " in out.split("time budget", 1)[1] and "search ended:" in out


def test_a_portfolio_from_one_store_gives_a_new_sweeps_first_trials(budget_sweep, small_demo_root, tmp_path):
    _, storage = budget_sweep
    path = tmp_path / "portfolio.yaml"
    assert main(["export", "--storage", str(storage), "--name", "b", "--portfolio", str(path),
                 "--portfolio-size", "2"]) == 0
    configs = [entry["values"] for entry in yaml.safe_load(path.read_text())["configs"]]
    assert 1 <= len(configs) <= 2
    second = tmp_path / "second"
    assert main([*COMMON, "--data-root", str(small_demo_root), "--categories", "wood", "--portfolio", str(path),
                 "--num-samples", str(len(configs) + 1), "--finalists", "0", "--storage", str(second),
                 "--name", "p"]) == 0
    study = optuna.load_study(study_name=study_name("p", "wood"), storage=f"sqlite:///{second / 'optuna.db'}")
    first = sorted(study.trials, key=lambda trial: trial.number)[:len(configs)]
    assert [trial.user_attrs["role"] for trial in first] == ["portfolio"] * len(configs)
    rows = ResultStore(second).read(experiment="p")
    for trial, values in zip(first, configs):
        trained = rows[rows["trial_id"] == trial.user_attrs["key"]].iloc[-1]
        for key, value in values.items():
            stored = trained[f"hp.{key}"]
            assert (stored == pytest.approx(value) if isinstance(value, float)
                    else list(stored) == value if isinstance(value, list) else stored == value), key
