"""The sweep's live view: one row per category, readable at 80 columns."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from cli.live_view import LiveView
from search.time_budget import TimeBudget

CATEGORIES = [f"category-with-a-long-name-{index:02d}" for index in range(15)]


def trial(category: str, key: str, role: str = "search", **result: object) -> SimpleNamespace:
    return SimpleNamespace(trial_id=f"tune-{key}", config={"category": category, "key": key, "role": role},
                           last_result=result)


def test_every_category_has_a_row_within_80_columns() -> None:
    output = io.StringIO()
    console = Console(file=output, width=80, force_terminal=False)
    view = LiveView(console, CATEGORIES, num_samples=12, finalist_runs=6, max_epochs=10)
    view.log_lines = False  # the table alone, without starting a live display
    first, second = CATEGORIES[0], CATEGORIES[1]
    view.on_trial_start(0, [], trial(first, "a"))
    view.on_trial_result(0, [], trial(first, "a"), {"objective": 0.81234, "status": "running", "epoch": 1})
    view.on_trial_complete(0, [], trial(first, "a", epoch=10, status="running"))
    view.on_trial_start(0, [], trial(second, "b"))
    view.on_trial_complete(0, [], trial(second, "b", epoch=1, status="running"))
    view.on_trial_start(0, [], trial(first, "a-s1", role="finalist"))
    console.print(view.render())
    lines = output.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if "category-with" in line]
    assert len(rows) == 15
    assert rows[0].split()[1:4] == ["1/12", "0/6", "1"]  # one search trial ended, the finalist runs
    assert "0.8123" in rows[0] and rows[1].split()[1] == "1/12" and "pruned" not in rows[1]


def test_in_a_log_each_ended_trial_is_one_line_and_the_table_comes_once() -> None:
    output = io.StringIO()
    console = Console(file=output, width=160, force_terminal=False)
    view = LiveView(console, ["carpet", "wood"], num_samples=4, finalist_runs=2, max_epochs=10)
    view.on_trial_start(0, [], trial("carpet", "carpet-001"))
    view.on_trial_result(0, [], trial("carpet", "carpet-001"), {"objective": 0.7, "status": "running", "epoch": 1})
    view.on_trial_complete(0, [], trial("carpet", "carpet-001", epoch=1, status="running", objective=0.7))
    view.on_trial_start(0, [], trial("wood", "wood-000"))
    view.on_trial_error(0, [], trial("wood", "wood-000", epoch=2))
    assert output.getvalue().splitlines() == [
        "carpet-001: pruned at epoch 1, objective 0.7000 (carpet: 1/4 searched, 0/2 finalist runs ended)",
        "wood-000: failed at epoch 2 (wood: 1/4 searched, 0/2 finalist runs ended)"]
    view.close()
    view.close()
    assert output.getvalue().count("sweep progress") == 1


def test_a_resumed_view_starts_from_the_stored_best() -> None:
    output = io.StringIO()
    view = LiveView(Console(file=output, width=80, force_terminal=False), ["wood"], num_samples=5, finalist_runs=0,
                    max_epochs=2, ended={"wood": {"wood-000": "finished"}}, best={"wood": 0.9974})
    view.log_lines = False
    view.console.print(view.render())
    row = next(line for line in output.getvalue().splitlines() if line.strip().startswith("wood"))
    assert row.split()[1] == "1/5" and row.split()[-1] == "0.9974"


def test_on_a_time_budget_the_view_shows_the_time_left_and_counts_no_planned_trials() -> None:
    now = [500.0]
    budget = TimeBudget(180.0, 2, 10, clock=lambda: now[0])
    output = io.StringIO()
    view = LiveView(Console(file=output, width=160, force_terminal=False), ["carpet"], num_samples=None,
                    finalist_runs=0, max_epochs=10, budget=budget)
    assert "left" not in view._clock()  # before the clock starts
    budget.start()
    now[0] += 55.0
    view.on_trial_start(0, [], trial("carpet", "carpet-000"))
    view.on_trial_complete(0, [], trial("carpet", "carpet-000", epoch=10, status="running", objective=0.9))
    line = output.getvalue().splitlines()[0]
    assert line.startswith("carpet-000: finished at epoch 10, objective 0.9000 (carpet: 1 searched ended, "
                           "2 min 5 s left, ends by ")
    now[0] += 200.0
    assert "time budget spent" in view._clock()


def test_the_end_estimate_comes_before_the_deadline_once_the_remaining_runs_are_known() -> None:
    now = [0.0]
    budget = TimeBudget(600.0, 1, 2, clock=lambda: now[0])
    view = LiveView(Console(file=io.StringIO(), width=160, force_terminal=False), ["carpet"], num_samples=3,
                    finalist_runs=0, max_epochs=2, budget=budget)
    budget.start()
    for key in ("k0", "k1"):  # the first trial is cold; the second measures a trial: 2 epochs x 20 s
        budget.trial_started("carpet", key, finalist=False)
        for _ in range(2):
            now[0] += 20.0
            budget.trial_result(key)
        budget.trial_ended(key)
    budget.runs_to_start = {"carpet": None}  # a search only the budget ends fills it
    assert "ends by" in view._clock()
    budget.runs_to_start = {"carpet": 2}  # two 40 s runs left on one slot: about 80 s, well before 520 s left
    assert budget.expected_left_s() == pytest.approx(80.0)
    assert "8 min 40 s left, ends about" in view._clock()
