"""The sweep's searcher without Ray: real Optuna studies in SQLite, Tune's calls made by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from search import studies
from search.category_study import CategoryStudy
from search.options import SweepOptions
from search.searcher import SweepSearcher
from spaces.space import parse_space
from ssflow.settings.flat_config import config_from_flat

SPACE = parse_space({"parameters": {"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                                    "flow.coupling_blocks": {"type": "int", "low": 2, "high": 6}}}, "test", "t")
MAX_EPOCHS = 4


def options(tmp_path: Path, **changes: Any) -> SweepOptions:
    settings = dict(base=config_from_flat({"data.dataset": "demo", "train.lr": 2e-3}), space=SPACE, name="s",
                    storage=str(tmp_path), num_samples=4, max_epochs=MAX_EPOCHS, concurrency=4, finalists=1,
                    finalist_seeds=2)
    return SweepOptions(**{**settings, **changes})


def searcher_for(sweep: SweepOptions, categories: list[str]) -> SweepSearcher:
    storage = studies.open_storage(studies.storage_url(sweep))
    opened = {}
    for category in categories:
        study = CategoryStudy(studies.load_or_create(storage, sweep, category), category, sweep,
                              lambda key, dirs: "")
        study.enqueue_start([])
        opened[category] = study
    return SweepSearcher(opened, MAX_EPOCHS, sweep.concurrency, trial_dir=lambda key, tid: f"/runs/{key}-{tid}")


def finish(searcher: SweepSearcher, trial_id: str, objective: float, epoch: int = MAX_EPOCHS) -> None:
    searcher.on_trial_complete(trial_id, {"epoch": epoch, "objective": objective, "status": "running"})


def test_categories_share_the_slots_fairly_and_a_category_out_of_work_leaves_them(tmp_path: Path) -> None:
    searcher = searcher_for(options(tmp_path, concurrency=4, num_samples=3, finalists=0), ["a", "b", "c", "d"])
    first = [searcher.suggest(f"t{index}") for index in range(5)]
    assert [spec["category"] for spec in first[:4]] == ["a", "b", "c", "d"]  # one slot each
    assert first[4] is None  # all four slots are taken
    finish(searcher, "t0", 0.5)
    assert searcher.suggest("t5")["category"] == "a"  # the freed slot goes to the category with fewest running
    # Let every trial of a and b end: their slots go to c and d, which still have trials.
    ids = iter(f"u{index}" for index in range(100))
    running = {"t1": "b", "t2": "c", "t3": "d", "t5": "a"}
    while True:
        done = next((tid for tid, category in running.items() if category in ("a", "b")), None)
        if done is None:
            break
        finish(searcher, done, 0.5)
        del running[done]
        while (spec := searcher.suggest(tid := next(ids))) not in (None, "FINISHED"):
            running[tid] = spec["category"]
    assert set(running.values()) <= {"c", "d"} and len(running) == 4


def test_each_study_starts_with_the_base_config_then_finalists_repeat_the_best(tmp_path: Path) -> None:
    sweep = options(tmp_path, concurrency=1, num_samples=3, finalists=1, finalist_seeds=2)
    searcher = searcher_for(sweep, ["a"])
    specs = []
    for index in range(3):
        spec = searcher.suggest(f"t{index}")
        specs.append(spec)
        finish(searcher, f"t{index}", [0.6, 0.9, 0.7][index])
    assert specs[0]["role"] == "base" and specs[0]["values"] == {} and specs[0]["number"] == 0
    assert [spec["role"] for spec in specs[1:]] == ["search", "search"]
    finalists = []
    for index in range(2):
        finalists.append(searcher.suggest(f"f{index}"))
        finish(searcher, f"f{index}", 0.8)
    assert [spec["role"] for spec in finalists] == ["finalist", "finalist"]
    assert {spec["parent"] for spec in finalists} == {specs[1]["key"]}  # the best trial, 0.9
    assert sorted(spec["seed"] for spec in finalists) == [1, 2]
    assert all(spec["values"] == specs[1]["values"] for spec in finalists)
    assert searcher.suggest("end") == "FINISHED"


def test_pruned_diverged_and_crashed_trials_are_told_to_optuna_as_such(tmp_path: Path) -> None:
    sweep = options(tmp_path, concurrency=4, num_samples=4, finalists=0)
    searcher = searcher_for(sweep, ["a"])
    for index in range(4):
        searcher.suggest(f"t{index}")
    searcher.on_trial_result("t1", {"epoch": 1, "objective": 0.4, "status": "running"})
    searcher.on_trial_complete("t0", {"epoch": MAX_EPOCHS, "objective": 0.8, "status": "running"})
    searcher.on_trial_complete("t1", {"epoch": 1, "objective": 0.4, "status": "running"})
    searcher.on_trial_complete("t2", {"epoch": 2, "objective": 0.0, "status": "diverged", "error": "non-finite loss"})
    searcher.on_trial_complete("t3", None, error=True)
    study = optuna.load_study(study_name="s-a", storage=studies.storage_url(sweep))
    states = {trial.number: (trial.state.name, trial.values, trial.user_attrs["outcome"]) for trial in study.trials}
    # Optuna keeps a pruned trial's last intermediate value as its value.
    assert states == {0: ("COMPLETE", [0.8], "finished"), 1: ("PRUNED", [0.4], "pruned"),
                      2: ("COMPLETE", [0.0], "diverged"), 3: ("FAIL", None, "failed")}
    assert study.trials[1].intermediate_values == {1: 0.4}
    assert searcher.finished()


def test_a_study_closed_by_an_earlier_driver_is_not_told_again(tmp_path: Path) -> None:
    sweep = options(tmp_path, concurrency=1, num_samples=2, finalists=0)
    searcher = searcher_for(sweep, ["a"])
    searcher.suggest("t0")
    study = optuna.load_study(study_name="s-a", storage=studies.storage_url(sweep))
    study.tell(0, [0.7])  # what a driver did before it was killed
    finish(searcher, "t0", 0.9)  # no UpdateFinishedTrialError
    assert optuna.load_study(study_name="s-a", storage=studies.storage_url(sweep)).trials[0].values == [0.7]


def test_a_new_sweep_may_not_reuse_a_study_name(tmp_path: Path) -> None:
    searcher_for(options(tmp_path), ["a"])
    with pytest.raises(studies.UserInputError, match="--resume or pick another --name"):
        searcher_for(options(tmp_path), ["a"])


def stored_trial(category: str, trial_id: str, objective: float, **flat: Any) -> list[dict[str, Any]]:
    """An earlier sweep's finished trial as the results store holds it."""
    from results.schema import hp_column
    from ssflow.settings.flat_config import config_to_flat

    config = config_from_flat({"data.dataset": "demo", "data.category": category, **flat})
    shared = {"experiment": "old", "dataset": "demo", "category": category, "trial_id": trial_id, "epoch": 4,
              "selection_objective": objective, "role": "search",
              **{hp_column(key): value for key, value in config_to_flat(config).items()}}
    return [{**shared, "status": "running"}, {**shared, "status": "finished"}]


def test_warm_start_tries_an_earlier_sweeps_best_configs_right_after_the_base(tmp_path: Path) -> None:
    from results.store import ResultStore
    from search.warm_start import earlier_bests, warm_configs

    store = ResultStore(tmp_path)
    store.write_rows([*stored_trial("a", "a-1", 0.7, **{"train.lr": 5e-3, "flow.coupling_blocks": 5}),
                      *stored_trial("a", "a-2", 0.9, **{"train.lr": 1e-3, "flow.coupling_blocks": 3}),
                      *stored_trial("b", "b-1", 0.8, **{"train.lr": 3e-4, "flow.coupling_blocks": 6})])
    sweep = options(tmp_path, concurrency=1, num_samples=8, finalists=0, warm_start="old")
    bests = earlier_bests(store, "old", "demo")
    storage = studies.open_storage(studies.storage_url(sweep))
    study = CategoryStudy(studies.load_or_create(storage, sweep, "a"), "a", sweep, lambda key, dirs: "")
    study.enqueue_start(warm_configs(bests, "a", "old"))
    searcher = SweepSearcher({"a": study}, MAX_EPOCHS, 1, trial_dir=lambda key, tid: f"/runs/{key}")
    specs = []
    for index in range(3):
        specs.append(searcher.suggest(f"t{index}"))
        finish(searcher, f"t{index}", 0.5)
    assert [spec["role"] for spec in specs] == ["base", "warm_start", "warm_start"]
    assert specs[1]["values"] == {"train.lr": 1e-3, "flow.coupling_blocks": 3}  # a's own best comes first
    assert specs[2]["values"] == {"train.lr": 3e-4, "flow.coupling_blocks": 6}  # then b's


def test_startup_trials_follow_the_budget() -> None:
    assert [studies.startup_trials(n) for n in (4, 12, 16, 40, 100)] == [2, 3, 4, 10, 10]
