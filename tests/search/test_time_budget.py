"""The time budget's rules with a hand-driven clock: real Optuna studies in SQLite, Tune's calls made by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ray.tune.schedulers import TrialScheduler

from search import studies, time_budget
from search.category_study import CategoryStudy
from search.convergence import within_noise
from search.options import UNLIMITED_SAMPLES, SweepOptions
from search.outcomes import Outcome
from search.scheduler import SweepScheduler
from search.space_checks import portfolio_notes
from search.searcher import SweepSearcher
from search.durations import format_duration, parse_duration
from search.time_budget import FINALIST_SHARE, TimeBudget
from spaces.space import parse_space
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat

SPACE = parse_space({"parameters": {"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                                    "flow.coupling_blocks": {"type": "int", "low": 2, "high": 6}}}, "test", "t")
MAX_EPOCHS = 4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def options(tmp_path: Path, **changes: Any) -> SweepOptions:
    settings = dict(base=config_from_flat({"data.dataset": "demo", "train.lr": 2e-3}), space=SPACE, name="s",
                    storage=str(tmp_path), num_samples=UNLIMITED_SAMPLES, max_epochs=MAX_EPOCHS, concurrency=1,
                    finalists=0, finalist_seeds=2, time_budget_s=100.0)
    return SweepOptions(**{**settings, **changes})


def budgeted(sweep: SweepOptions, categories: list[str], clock: Clock, noise: float = 0.0
             ) -> tuple[SweepSearcher, TimeBudget]:
    """A searcher on a time budget; ``noise`` 0 keeps searches from converging (any gain is above it)."""
    budget = TimeBudget(sweep.time_budget_s, sweep.concurrency, MAX_EPOCHS, clock=clock)
    storage = studies.open_storage(studies.storage_url(sweep))
    opened = {}
    for category in categories:
        study = CategoryStudy(studies.load_or_create(storage, sweep, category), category, sweep, lambda key, dirs: "",
                              noise=noise)
        study.enqueue_start([])
        opened[category] = study
    searcher = SweepSearcher(opened, MAX_EPOCHS, sweep.concurrency, trial_dir=lambda key, tid: f"/r/{key}-{tid}",
                             budget=budget)
    budget.start()
    return searcher, budget


def run_trial(searcher: SweepSearcher, clock: Clock, trial_id: str, epoch_s: float, objective: float,
              epochs: int = MAX_EPOCHS) -> dict[str, Any] | str | None:
    """Suggest a trial and let it report ``epochs`` epochs of ``epoch_s`` seconds each, then end."""
    spec = searcher.suggest(trial_id)
    if not isinstance(spec, dict):
        return spec
    for epoch in range(1, epochs + 1):
        clock.now += epoch_s
        searcher.on_trial_result(trial_id, {"epoch": epoch, "objective": objective, "status": "running"})
    searcher.on_trial_complete(trial_id, {"epoch": epochs, "objective": objective, "status": "running"})
    return spec


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("20m", 1200), ("2h", 7200), ("1h30m", 5400),
                                           ("1.5h", 5400), ("45", 45), (" 2M ", 120)])
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["20x", "0s", "-5m", "m", "", "nan", "inf", "1h-30m"])
def test_a_bad_duration_is_one_line_naming_the_flag(text: str) -> None:
    with pytest.raises(UserInputError, match=r"^--time-budget .*expected a duration") as error:
        parse_duration(text)
    assert "\n" not in str(error.value)


def test_durations_print_for_people() -> None:
    assert [format_duration(s) for s in (42, 725, 7380, 3600)] == ["42 s", "12 min 5 s", "2 h 3 min", "1 h"]


def test_searched_trials_start_only_while_a_full_trial_fits_then_the_sweep_finishes(tmp_path: Path) -> None:
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path), ["a"], clock)
    roles = []
    while isinstance(spec := run_trial(searcher, clock, f"t{len(roles)}", epoch_s=7.0, objective=0.5), dict):
        roles.append(spec["role"])
    # Each trial takes 4 x 7 = 28 s: the base config and two searched trials fit in 100 s, a fourth would not.
    assert roles == ["base", "search", "search"]
    assert spec == "FINISHED"
    assert budget.trial_s("a") == pytest.approx(28.0)
    assert budget.elapsed() == pytest.approx(84.0) and budget.elapsed() <= budget.seconds
    record = budget.record()["categories"]["a"]
    assert record["trials"] == 3 and record["search_ended"] == "time budget"
    assert record["slot_seconds"] == pytest.approx(84.0)


def test_a_category_with_slow_trials_gets_fewer_of_them(tmp_path: Path) -> None:
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=400.0), ["slow", "fast"], clock)
    started = {"slow": 0, "fast": 0}
    for index in range(40):
        spec = searcher.suggest(f"t{index}")
        if not isinstance(spec, dict):
            break
        category = spec["category"]
        started[category] += 1
        for epoch in range(1, MAX_EPOCHS + 1):
            clock.now += 10.0 if category == "slow" else 2.0
            searcher.on_trial_result(f"t{index}", {"epoch": epoch, "objective": 0.5, "status": "running"})
        searcher.on_trial_complete(f"t{index}", {"epoch": MAX_EPOCHS, "objective": 0.5, "status": "running"})
    assert started["fast"] > 2 * started["slow"] >= 2
    used = {category: budget.used_s(category) for category in started}
    # slot time shared, within two slow trials: the last may start at the slow category's last chance
    assert abs(used["fast"] - used["slow"]) <= 80.0 + 1e-9


def test_finalist_time_is_kept_from_the_search(tmp_path: Path) -> None:
    clock = Clock()
    sweep = options(tmp_path, time_budget_s=1000.0, finalists=2, finalist_seeds=2)
    budget = TimeBudget(sweep.time_budget_s, 1, MAX_EPOCHS, clock=clock)
    budget.start()
    for key in ("a-0", "a-1"):  # the first is cold (it started the worker): the second measures a trial
        budget.trial_started("a", key, finalist=False)
        for _ in range(MAX_EPOCHS):
            clock.now += 25.0
            budget.trial_result(key)
        budget.trial_ended(key)
    # 4 finalist runs x 100 s = 400 s wanted, capped at a quarter of the budget.
    assert budget.finalist_reserve_s({"a": 4}) == pytest.approx(FINALIST_SHARE * 1000.0)
    assert budget.finalist_reserve_s({"a": 1}) == pytest.approx(100.0)
    assert budget.finalist_reserve_s({"a": 0}) == 0.0
    clock.now = budget.started_at + 1000.0 - 100.0 - 250.0 - 1.0
    assert budget.search_allows("a", {"a": 4})
    clock.now += 2.0
    assert not budget.search_allows("a", {"a": 4})
    assert budget.finalist_allows("a")


def test_a_reserve_too_short_for_one_finalist_run_is_left_to_the_search(tmp_path: Path) -> None:
    clock = Clock()
    sweep = options(tmp_path, time_budget_s=300.0, finalists=3, finalist_seeds=2)
    budget = TimeBudget(sweep.time_budget_s, 1, MAX_EPOCHS, clock=clock)
    budget.start()
    for key in ("a-0", "a-1"):
        budget.trial_started("a", key, finalist=False)
        for _ in range(MAX_EPOCHS):
            clock.now += 25.0
            budget.trial_result(key)
        budget.trial_ended(key)
    # 6 runs x 100 s wanted, capped at 75 s: shorter than one 100 s run, so nothing is kept from the search.
    assert budget.finalist_reserve_s({"a": 6}) == 0.0
    clock.now = budget.started_at + 150.0
    assert budget.search_allows("a", {"a": 6})  # 150 s left, one 100 s trial fits: the search goes on


def test_at_the_budgets_end_trials_stop_except_a_categorys_only_hope(tmp_path: Path) -> None:
    clock = Clock()
    budget = TimeBudget(60.0, 2, MAX_EPOCHS, clock=clock)
    scheduler = SweepScheduler(["a", "b"], MAX_EPOCHS, 1, 2, budget)
    budget.start()
    budget.exportable.add("a")

    def trial(category: str, key: str, role: str) -> SimpleNamespace:
        return SimpleNamespace(config={"category": category, "key": key, "role": role})

    result = {"epoch": 2, "objective": 0.5}
    assert scheduler.on_trial_result(None, trial("a", "a-1", "search"), result) == TrialScheduler.CONTINUE
    clock.now += 61.0
    assert scheduler.on_trial_result(None, trial("a", "a-1", "search"), result) == TrialScheduler.STOP
    assert scheduler.on_trial_result(None, trial("a", "a-0", "base"), result) == TrialScheduler.STOP
    # b has no full-budget result yet: its base config trains on so it can be exported.
    assert scheduler.on_trial_result(None, trial("b", "b-0", "base"), result) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, trial("b", "b-1", "finalist"), result) == TrialScheduler.STOP


def test_a_converged_search_ends_and_leaves_its_time_to_others(tmp_path: Path) -> None:
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=10_000.0, concurrency=1), ["a"], clock, noise=0.01)
    ended = []
    for index in range(30):
        spec = run_trial(searcher, clock, f"t{index}", epoch_s=1.0, objective=0.8)
        if not isinstance(spec, dict):
            break
        ended.append(spec["role"])
    assert 5 <= len(ended) < 30  # stopped on convergence (the regret bound needs 5 finished trials), not time
    assert budget.record()["categories"]["a"]["search_ended"] == "converged"
    assert budget.elapsed() < 0.1 * budget.seconds


def test_finalists_are_the_configs_within_the_seed_noise_of_the_best() -> None:
    assert within_noise([0.90, 0.85, 0.80], noise=0.01) == 0  # the best is clear: no seeds needed
    assert within_noise([0.90, 0.895, 0.85], noise=0.01) == 2
    assert within_noise([0.90, 0.89, 0.881], noise=0.01) == 3
    assert within_noise([], noise=0.01) == 0


def test_portfolio_configs_are_the_first_trials_then_the_base_config(tmp_path: Path) -> None:
    base = options(tmp_path).base
    as_base = {"train.lr": base.train.lr, "flow.coupling_blocks": base.flow.coupling_blocks}
    portfolio = ({"train.lr": 5e-3, "flow.coupling_blocks": 3}, as_base,
                 {"train.lr": 5e-3, "flow.coupling_blocks": 3})  # the third repeats the first
    sweep = options(tmp_path, portfolio=portfolio, portfolio_source="p.yaml", time_budget_s=0.0, num_samples=6,
                    concurrency=1)
    storage = studies.open_storage(studies.storage_url(sweep))
    study = CategoryStudy(studies.load_or_create(storage, sweep, "a"), "a", sweep, lambda key, dirs: "")
    study.enqueue_start([])
    specs = []
    for index in range(3):
        spec = study.next_trial(lambda key: f"/r/{key}")
        specs.append(spec)
        study.complete(spec.key, study_outcome(0.5))
    assert [spec.role for spec in specs] == ["portfolio", "portfolio", "search"]
    assert specs[0].values == {"train.lr": 5e-3, "flow.coupling_blocks": 3}
    assert specs[1].values == as_base  # the second has the base config's values: no separate base trial
    assert [t.user_attrs["source"] for t in list(study.trials.values())[:2]] == ["portfolio p.yaml #1",
                                                                                 "portfolio p.yaml #2"]


def study_outcome(objective: float) -> Outcome:
    return Outcome("finished", MAX_EPOCHS, objective)


def test_one_off_costs_of_first_trials_are_not_taken_as_what_trials_cost() -> None:
    clock = Clock()
    budget = TimeBudget(300.0, 1, MAX_EPOCHS, clock=clock)
    budget.start()

    def trial(key: str, first_s: float, features_computed: bool) -> None:
        budget.trial_started("a", key, finalist=False)
        clock.now += first_s
        budget.trial_result(key, features_computed)
        for _ in range(MAX_EPOCHS - 1):
            clock.now += 5.0
            budget.trial_result(key)
        budget.trial_ended(key)

    trial("a-0", 60.0, features_computed=True)  # started the worker and ran the backbone over the images
    assert budget.trial_s("a") == pytest.approx(75.0)  # all there is, so an estimate ...
    assert budget.search_allows("a", {}) and budget.left() < 75.0 + 250.0  # ... that refuses nothing yet
    trial("a-1", 30.0, features_computed=True)  # a new data variant: another feature pass
    assert budget.search_allows("a", {})
    trial("a-2", 6.0, features_computed=False)
    assert budget.trial_s("a") == pytest.approx(21.0)  # warm: 6 s to the first result, then 3 x 5 s


def test_after_the_budgets_end_a_category_that_never_started_still_gets_its_first_trial(tmp_path: Path) -> None:
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=1.0, concurrency=1), ["a", "b"], clock)
    first = searcher.suggest("t0")
    clock.now += 5.0  # the budget is spent while a's first trial runs
    assert searcher.suggest("t1") is None  # the slot is taken
    finish = {"epoch": MAX_EPOCHS, "objective": 0.5, "status": "running"}
    searcher.on_trial_complete("t0", finish)
    second = searcher.suggest("t2")
    assert (first["category"], second["category"]) == ("a", "b") and second["role"] == "base"
    searcher.on_trial_complete("t2", finish)
    assert searcher.suggest("t3") == "FINISHED"


def test_a_portfolio_read_through_a_space_says_what_the_space_changes(tmp_path: Path) -> None:
    portfolio = ({"train.lr": 0.05, "flow.coupling_blocks": 3, "map.topk": 0.01}, {"train.lr": 2e-3})
    choice_space = parse_space({"parameters": {"flow.hidden_channels": {"type": "choice", "choices": [64, 96]},
                                               "train.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}}, "c", "c")
    notes = portfolio_notes(options(tmp_path, portfolio=portfolio))
    assert notes == ["config 1: train.lr=0.05 outside the space's range (tried as given); 1 key the space does not "
                     "search keeps the base config's value (e.g. map.topk)"]
    notes = portfolio_notes(options(tmp_path, space=choice_space, portfolio=({"flow.hidden_channels": 128},)))
    assert notes == ["config 1: flow.hidden_channels=128 not among the space's choices (the base config's value "
                     "is used)"]


def _share_slots(searcher: SweepSearcher, clock: Clock, epoch_s: dict[str, float]) -> dict[str, int]:
    """Run the searcher's trials one at a time, each category's epochs taking ``epoch_s[category]``."""
    started = dict.fromkeys(epoch_s, 0)
    for index in range(60):
        spec = searcher.suggest(f"t{index}")
        if not isinstance(spec, dict):
            break
        started[spec["category"]] += 1
        for epoch in range(1, MAX_EPOCHS + 1):
            clock.now += epoch_s[spec["category"]]
            searcher.on_trial_result(f"t{index}", {"epoch": epoch, "objective": 0.5, "status": "running"})
        searcher.on_trial_complete(f"t{index}", {"epoch": MAX_EPOCHS, "objective": 0.5, "status": "running"})
    return started


@pytest.mark.parametrize("urgent_share, slow_trials", [(0.0, 1), (0.5, 2)])
def test_a_slow_category_about_to_lose_its_last_start_goes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 urgent_share: float, slow_trials: int) -> None:
    """Fair shares alone let a fast category catch up in slot time until the slow one can no longer start
    (URGENT_SHARE 0 switches the rule off); with the rule the slow category gets its second trial."""
    monkeypatch.setattr(time_budget, "URGENT_SHARE", urgent_share)
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=300.0), ["slow", "fast"], clock)
    started = _share_slots(searcher, clock, {"slow": 30.0, "fast": 5.0})
    assert started["slow"] == slow_trials and started["fast"] >= 3
    assert budget.elapsed() <= budget.seconds * 1.1


def test_the_closing_record_says_why_no_finalist_ran_and_what_an_interrupt_left(tmp_path: Path) -> None:
    from cli.budget_view import budget_line
    from search.budget_notes import closing_notes

    clock = Clock()
    sweep = options(tmp_path, time_budget_s=100.0, finalists=0)
    searcher, budget = budgeted(sweep, ["a"], clock)
    while isinstance(run_trial(searcher, clock, f"t{clock.now}", epoch_s=7.0, objective=0.5), dict):
        pass
    assert budget.runs_to_start == {"a": 0}  # its search ended on time and it plans no finalist: nothing to start
    closing = budget.record(closing_notes(searcher.studies, stopped_early=not budget.expired()))
    entry = closing["categories"]["a"]
    assert entry["no_finalists"] == "finalists off" and entry["search_ended"] == "time budget"
    assert budget.final_record is closing
    assert "0 finalist runs: finalists off" in budget_line(closing)

    # Stopped (Ctrl-C) before the budget's end while a trial ran: that category was interrupted.
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path / "second", time_budget_s=1000.0, finalists=2), ["b"], clock)
    assert isinstance(searcher.suggest("first"), dict)
    assert budget.runs_to_start == {"b": None}  # only the budget ends its search
    entry = budget.record(closing_notes(searcher.studies, stopped_early=not budget.expired()))["categories"]["b"]
    assert entry["search_ended"] == "interrupted" and entry["no_finalists"] == "its search had not ended"
    assert budget.record()["categories"]["b"]["search_ended"] == "still searching"  # while the sweep runs


def test_a_category_with_one_full_budget_config_has_nothing_for_finalists_to_decide(tmp_path: Path) -> None:
    from search.budget_notes import closing_notes

    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=30.0, finalists=2), ["a"], clock)
    run_trial(searcher, clock, "first", epoch_s=7.0, objective=0.5)  # 28 s: the full budget
    run_trial(searcher, clock, "second", epoch_s=7.0, objective=0.6, epochs=1)  # stopped at the budget's end
    assert not isinstance(searcher.suggest("third"), dict)
    entry = budget.record(closing_notes(searcher.studies, stopped_early=False))["categories"]["a"]
    assert entry["finalist_runs"] == 0
    assert entry["no_finalists"] == "fewer than two configs ran the full budget"


def test_one_off_costs_do_not_cost_a_category_its_start_trials(tmp_path: Path) -> None:
    """The sweep's first trial also starts a worker (40 s here): charged to its category's share, the other
    category would run its base config first and be ahead for every later slot, though its trials cost the same
    (on demo-hard at half a PatchCore fit, two categories never got to their base config that way)."""
    clock = Clock()
    sweep = options(tmp_path, time_budget_s=160.0, portfolio=({"train.lr": 5e-3, "flow.coupling_blocks": 3},),
                    portfolio_source="p.yaml")
    searcher, budget = budgeted(sweep, ["a", "b"], clock)
    ran = []
    for index in range(10):
        spec = searcher.suggest(f"t{index}")
        if not isinstance(spec, dict):
            break
        ran.append((spec["category"], spec["role"]))
        for epoch in range(1, MAX_EPOCHS + 1):
            clock.now += 7.0 + (40.0 if index == 0 and epoch == 1 else 0.0)
            searcher.on_trial_result(f"t{index}", {"epoch": epoch, "objective": 0.5, "status": "running"})
        searcher.on_trial_complete(f"t{index}", {"epoch": MAX_EPOCHS, "objective": 0.5, "status": "running"})
    assert ran[:4] == [("a", "portfolio"), ("b", "portfolio"), ("a", "base"), ("b", "base")]
    assert budget.used_s("a") == pytest.approx(68.0 + 28.0) and budget.share_s("a") == pytest.approx(56.0)


def test_time_kept_for_finalists_follows_the_finalists_a_search_would_plan(tmp_path: Path) -> None:
    """Each trial takes 28 s; the finalist reserve would be 35 s of the 140 s (a quarter). The base config leads
    the others beyond the noise, so no finalist would run: the search keeps that time (5 trials, not 3)."""
    clock = Clock()
    searcher, budget = budgeted(options(tmp_path, time_budget_s=140.0, finalists=2), ["a"], clock)
    objectives = iter([0.9] + [0.5] * 10)
    while isinstance(run_trial(searcher, clock, f"t{clock.now}", epoch_s=7.0, objective=next(objectives)), dict):
        pass
    record = budget.record()["categories"]["a"]
    assert record["trials"] == 5 and record["finalist_runs"] == 0
    assert budget.elapsed() <= budget.seconds
