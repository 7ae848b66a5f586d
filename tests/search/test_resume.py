"""Resume behaves like no interruption: same pruning decisions, more trials on request, fixed flags kept.

Sweeps are ``run_search.py`` subprocesses with their own local Ray (see conftest), one demo category at
64 px, one trial at a time so that the order of results, and so ASHA's decisions, are reproducible.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import optuna
import pandas as pd
import pytest

from results.ranking import trial_summary
from search import studies

CATEGORY = "wood"  # the category every sweep of tests/search/conftest.py runs

pytestmark = pytest.mark.cluster

# ASHA may stop trials at epochs 1 and 2; a trial past epoch 2 (the base config always is) trains two more.
BUDGET = ("--num-samples", "6", "--max-epochs", "4", "--grace-period", "1", "--reduction-factor", "2",
          "--concurrency", "1", "--seed", "5")


def decisions(frame: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """Per trial: how it ended and at which epoch."""
    summary = trial_summary(frame)
    return {row.trial_id: (row.status, int(row.last_epoch)) for row in summary.itertuples()}


def objectives(frame: pd.DataFrame) -> pd.Series:
    running = frame[frame["status"] == "running"]
    return running.set_index(["trial_id", "epoch"])["selection_objective"].sort_index()


def study_trials(sweeps: Any, name: str) -> int:
    """Ended trials of the sweep's study, as optuna.load_study (and optuna-dashboard) reads them."""
    # Opened as the sweep opens it: a reader that starts as the driver creates the database may race it.
    storage = studies.open_storage(f"sqlite:///{sweeps.storage}/optuna.db")
    try:
        study = optuna.load_study(study_name=f"{name}-{CATEGORY}", storage=storage)
    except KeyError:  # the database exists, the study not yet
        return 0
    return sum(1 for trial in study.trials if trial.state.is_finished())


@pytest.fixture(scope="module")
def sweeps(module_sweeps: Any) -> Any:
    """One storage for the module: the uninterrupted sweep runs once and is compared with the others."""
    return module_sweeps


@pytest.fixture(scope="module")
def uninterrupted(sweeps: Any) -> pd.DataFrame:
    sweep = sweeps.start("straight", *BUDGET)
    sweep.wait_until(lambda: (sweeps.storage / "optuna.db").exists() and study_trials(sweeps, "straight") >= 1,
                     240, "a trial ended in the study database")
    assert sweep.process.poll() is None  # read while the sweep runs
    assert sweep.wait(timeout=400) == 0, sweep.output()[-3000:]
    assert study_trials(sweeps, "straight") == 6  # and after it
    return sweeps.rows("straight")


def test_interrupted_sweep_resumes_to_the_same_pruning_decisions(
        sweeps: Any, uninterrupted: pd.DataFrame, check_store: Any) -> None:
    started = time.monotonic()
    sweep = sweeps.start("broken", *BUDGET)

    def mid_trial() -> bool:  # a trial past the last stopping point, with epochs still to train
        frame = sweeps.rows("broken")
        ended = set(frame.loc[frame["status"] != "running", "trial_id"])
        return bool(((frame["epoch"] >= 2) & ~frame["trial_id"].isin(ended)).any())

    sweep.wait_until(mid_trial, 300, "a trial past epoch 2", interval=0.2)
    sweep.process.send_signal(signal.SIGINT)
    assert sweep.wait(timeout=120) == 130, sweep.output()[-3000:]
    interrupted = decisions(sweeps.rows("broken"))
    assert "running" in {status for status, _ in interrupted.values()}

    resumed = sweeps.start("broken", *BUDGET, "--resume")
    assert resumed.wait(timeout=400) == 0, resumed.output()[-3000:]
    frame = sweeps.rows("broken")
    check_store(frame, 6)
    assert decisions(frame) == decisions(uninterrupted)
    pd.testing.assert_series_equal(objectives(frame), objectives(uninterrupted), atol=1e-5, rtol=0)
    print(f"\nresume: {len(interrupted)} trials seen before the interrupt, decisions {decisions(frame)}; "
          f"{time.monotonic() - started:.0f} s")


def test_raising_num_samples_on_resume_adds_trials_and_ends_with_exit_0(
        sweeps: Any, uninterrupted: pd.DataFrame, check_store: Any) -> None:
    flags = [flag if flag != "6" else "8" for flag in BUDGET]
    more = sweeps.start("straight", *flags, "--resume")
    assert more.wait(timeout=400) == 0, more.output()[-3000:]
    frame = sweeps.rows("straight")
    check_store(frame, 8)
    earlier = frame[frame["trial_id"].isin(uninterrupted["trial_id"])]
    key = ["trial_id", "status", "epoch", "written_at"]
    assert earlier.sort_values(key)[key].reset_index(drop=True).equals(
        uninterrupted.sort_values(key)[key].reset_index(drop=True))  # ended trials were not run again
    assert "interrupted" not in more.output()


@pytest.mark.parametrize("flag, value, stored", [("--max-epochs", "5", "4"), ("--reduction-factor", "3", "2"),
                                                 ("--seed", "6", "5")])
def test_a_fixed_flag_changed_on_resume_is_refused(
        sweeps: Any, uninterrupted: pd.DataFrame, flag: str, value: str, stored: str) -> None:
    flags = list(BUDGET)
    if flag in flags:
        flags[flags.index(flag) + 1] = value
    before = sweeps.rows("straight")
    done = subprocess.run(sweeps.command("straight", *flags, "--resume"), env=sweeps.env("refused"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag} {value}:") and f"with {stored}" in lines[0]
    assert len(sweeps.rows("straight")) == len(before)  # nothing ran, nothing was written
