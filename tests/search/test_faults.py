"""Lost drivers and bad trials: interrupted sweeps resume, failing trials are recorded and the sweep goes on.

Drivers are ``run_search.py`` subprocesses with their own local Ray; bad trials
run in-process through ``search.sweep.run_sweep`` with spaces whose fixed
values make training diverge or fail at run time, and under Ray's own
out-of-memory killer.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import pytest
from ray import tune

from results.store import ResultStore
from search.cluster import connect, disconnect
from search.options import SweepOptions
from search.sweep import CategoryOutcome, plan_categories, run_sweep
from spaces.space import load_space
from ssflow.errors import WriteFailed
from ssflow.settings.flat_config import config_from_flat

pytestmark = pytest.mark.cluster

TRIALS = 6
# No pruning (all finish); 128 px makes an epoch about a second, so a trial outlasts the snapshot interval.
BUDGET = ("--num-samples", str(TRIALS), "--max-epochs", "2", "--grace-period", "2", "--set", "backbone.image_size=128")
SNAPSHOT_S = 2.0  # the driver's TUNE_GLOBAL_CHECKPOINT_S (cli.search_command)


def watch(sweeps: Any, name: str, until: Callable[[pd.DataFrame], bool], timeout: float) -> list[int]:
    """Read the store over and over until ``until(rows)``; row counts seen, which must never shrink."""
    counts: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = sweeps.rows(name)  # raises if the store is ever unreadable mid-write
        counts.append(len(frame))
        if until(frame):
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: condition not met after {timeout:.0f} s; last rows:\n{frame}")
        time.sleep(0.25)  # the trials share the machine's 2 cores with this loop


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"


def finals(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] != "running"].set_index("trial_id")


def interrupt(sweeps: Any, sweep: Any, name: str, kill: signal.Signals, counts: list[int]) -> dict[str, Any]:
    """Send ``kill`` to the driver, read the store (adding to ``counts``) until it has exited, end what it left."""
    os.kill(sweep.process.pid, kill)
    killed = time.monotonic()
    code = None
    while code is None:  # keep reading while the driver winds down
        counts.extend(watch(sweeps, name, lambda frame: True, timeout=10))
        code = sweep.process.poll()
        if time.monotonic() - killed > 120:
            raise TimeoutError(f"driver still running 120 s after {kill.name}:\n{sweep.output()[-3000:]}")
    stopped_s = time.monotonic() - killed
    time.sleep(1.0)  # what a dead driver leaves behind, shortly after
    leftovers = sorted(process_name(pid) for pid in sweep.leftovers())
    sweep.stop()
    return {"code": code, "stopped_s": stopped_s, "leftovers": leftovers}


def test_interrupted_then_killed_driver_resumes_to_the_end(sweeps: Any, check_store: Any) -> None:
    """Ctrl-C, resume, SIGKILL, resume: one sweep of 6 trials ends complete and consistent."""
    started, name = time.monotonic(), "lost-driver"

    def ended_count(count: int, settle_s: float) -> Callable[[pd.DataFrame], bool]:
        """``count`` trials ended ``settle_s`` ago or more, and some trial has not."""
        def check(frame: pd.DataFrame) -> bool:
            ages = (pd.Timestamp.now(tz="UTC") - finals(frame)["written_at"]).dt.total_seconds()
            return int((ages >= settle_s).sum()) >= count and len(ages) < TRIALS
        return check

    # 1. Ctrl-C once a trial has finished: exit 130 with the resume command; Tune saves its state.
    sweep = sweeps.start(name, *BUDGET)
    counts = watch(sweeps, name, ended_count(1, 0.0), timeout=240)
    first = interrupt(sweeps, sweep, name, signal.SIGINT, counts)
    assert first["code"] == 130, sweep.output()[-3000:]
    assert f"--resume --name {name}" in sweep.output()
    after_sigint = sweeps.rows(name)

    # 2. Resume, then SIGKILL once one more trial has finished and a snapshot had time to include it. One
    # trial at a time (--concurrency may change on resume) leaves trials to run after that, however fast they are.
    sweep = sweeps.start(name, *BUDGET, "--resume", "--concurrency", "1")
    counts += watch(sweeps, name, ended_count(len(finals(after_sigint)) + 1, SNAPSHOT_S + 1), timeout=240)
    killed_at = pd.Timestamp.now(tz="UTC")
    second = interrupt(sweeps, sweep, name, signal.SIGKILL, counts)
    assert second["code"] == -signal.SIGKILL
    after_sigkill = sweeps.rows(name)

    # 3. Resume to the end.
    sweep = sweeps.start(name, *BUDGET, "--resume")
    counts += watch(sweeps, name, lambda frame: sweep.process.poll() is not None, timeout=300)
    assert sweep.wait(timeout=10) == 0, sweep.output()[-3000:]
    final = sweeps.rows(name)
    check_store(final, TRIALS)
    assert (finals(final)["status"] == "finished").all(), finals(final)[["status", "error"]]
    assert counts == sorted(counts)  # readable all along, and no row ever vanished

    # Trials that had ended were not run again: their final rows are the ones written before.
    ended = finals(after_sigkill)
    ended = ended[ended["written_at"] <= killed_at - pd.Timedelta(seconds=SNAPSHOT_S + 1)]
    assert len(ended) > len(finals(after_sigint)) > 0
    assert (finals(final).loc[ended.index, "written_at"] == ended["written_at"]).all()
    # Each resumed driver started its own Ray: rows it wrote name other nodes than earlier rows.
    for before in (after_sigint, after_sigkill):
        key = ["trial_id", "status", "epoch", "written_at"]
        new = final[~final.set_index(key).index.isin(before.set_index(key).index)]
        assert not new.empty and not set(new["node"]) & set(before["node"])
    # Ctrl-C saves the latest checkpoints: no epoch reported before it was trained again.
    merged = after_sigint.merge(final, on=["trial_id", "status", "epoch"])
    assert (merged["written_at_x"] == merged["written_at_y"]).all()
    print(f"\nlost driver: SIGINT exit {first['code']} after {first['stopped_s']:.0f} s, left behind "
          f"{first['leftovers']}; SIGKILL left behind {second['leftovers']} (killed); {len(ended)} trial(s) "
          f"ended before the kill not rerun; {time.monotonic() - started:.0f} s")


# Bad trials, in-process -----------------------------------------------------------------------------------


class Retries(tune.Callback):
    """Counts Tune's retries per trial (``on_trial_recover``)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.count[trial.trial_id] = self.count.get(trial.trial_id, 0) + 1


@pytest.fixture
def local_ray() -> Iterator[Path]:
    """A local Ray in this process (temp dir short: unix socket paths are limited), stopped after the test."""
    folder = Path(tempfile.mkdtemp(prefix="ssf", dir="/tmp"))
    connect(None, num_cpus=2, temp_dir=str(folder))
    try:
        yield folder
    finally:
        disconnect()
        shutil.rmtree(folder, ignore_errors=True)


def sweep_with_space(tmp_path: Path, demo_root: Path, space_yaml: str, name: str, num_samples: int,
                     callbacks: list, gone_before_trials: Path | None = None) -> tuple[CategoryOutcome, pd.DataFrame]:
    """``gone_before_trials``: a file removed after the driver checked the space, before any trial runs."""
    space_file = tmp_path / f"{name}.yaml"
    space_file.write_text(space_yaml)
    # The seed fixes the searcher's first suggestions (see DIVERGING).
    base = config_from_flat({"data.dataset": "demo", "data.root": str(demo_root), "backbone.image_size": 64,
                             "seed": 0})
    options = SweepOptions(
        base=base, space=load_space(space_file), name=name, storage=str(tmp_path / "runs"),
        num_samples=num_samples, max_epochs=2, grace_period=2, concurrency=2, max_failures=1, device="cpu",
        finalists=0,
    )
    plans = plan_categories(options, ["wood"])
    if gone_before_trials is not None:
        gone_before_trials.unlink()
    (outcome,) = run_sweep(options, plans, callbacks=callbacks)
    return outcome, ResultStore(tmp_path / "runs").read(experiment=name)


# The base config (trial 0) trains with the default lr; TPE proposes the others from the two choices.
DIVERGING = """\
description: lr 0.9 with clamp 10 and no real clipping gives a non-finite gradient in epoch 1
parameters:
  train.lr: {type: choice, choices: [0.9, 0.001]}
  flow.clamp: {type: fixed, value: 10.0}
  train.grad_clip: {type: fixed, value: 1.0e9}
"""

RAISING = """\
description: valid on load and on the driver, but the backbone weights file is gone where the trial runs
parameters:
  backbone.weights: {{type: fixed, value: {weights}}}
  loss.weight: {{type: float, low: 0.4, high: 0.6}}
"""


def test_diverging_trials_are_recorded_diverged_with_their_reason(
        local_ray: Path, tmp_path: Path, demo_root: Path, check_store: Any) -> None:
    started = time.monotonic()
    retries = Retries()
    outcome, frame = sweep_with_space(tmp_path, demo_root, DIVERGING, "diverge", 5, [retries])
    assert outcome.complete
    check_store(frame, 5)
    ended = finals(frame)
    diverged = ended[ended["hp.train.lr"] == 0.9]
    assert len(diverged) >= 1 and (diverged["status"] == "diverged").all()  # a stored status, never parsed
    assert diverged["error"].str.startswith("non-finite").all(), diverged["error"]
    assert diverged["selection_objective"].isna().all()
    trained = ended[ended["hp.train.lr"] == 0.001]
    assert len(trained) >= 1 and trained["status"].isin(["finished", "pruned"]).all()  # the sweep went on
    assert retries.count == {}  # a diverged trial is a result, not a crash: no retry
    diverge_s = time.monotonic() - started

    retries = Retries()
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"checked by the driver, removed before the trial runs")
    outcome, frame = sweep_with_space(tmp_path, demo_root, RAISING.format(weights=weights), "raise", 1, [retries],
                                      gone_before_trials=weights)
    assert outcome.complete and outcome.statuses == {"failed": 1}
    check_store(frame, 1)
    row = finals(frame).iloc[0]
    assert row["status"] == "failed"
    assert str(weights) in row["error"] and "file not found" in row["error"] and "\n" not in row["error"]
    assert list(retries.count.values()) == [1]  # max_failures=1: one retry, then recorded failed
    print(f"\nbad trials: {len(diverged)} diverged and {len(trained)} trained of 5 in {diverge_s:.0f} s; "
          f"raising trial retried {retries.count}, error {row['error']!r}; {time.monotonic() - started:.0f} s")


@pytest.fixture
def ray_that_kills_for_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local Ray whose out-of-memory monitor fires at 1% node memory: it kills every running trial worker.

    This is the real mechanism that ends a trial using too much memory on a
    node, without using any: no memory pressure is put on the machine.
    """
    monkeypatch.setenv("RAY_memory_usage_threshold", "0.01")  # read by the raylet this test starts
    monkeypatch.setenv("RAY_memory_monitor_refresh_ms", "100")
    folder = Path(tempfile.mkdtemp(prefix="ssf", dir="/tmp"))
    connect(None, num_cpus=1, temp_dir=str(folder))
    try:
        yield folder
    finally:
        disconnect()
        shutil.rmtree(folder, ignore_errors=True)


def test_trial_killed_for_memory_is_recorded_failed(
        ray_that_kills_for_memory: Path, tmp_path: Path, demo_root: Path, check_store: Any) -> None:
    started = time.monotonic()
    retries = Retries()
    space = "description: the demo space\nparameters:\n  loss.weight: {type: float, low: 0.4, high: 0.6}\n"
    outcome, frame = sweep_with_space(tmp_path, demo_root, space, "oom", 1, [retries])
    assert outcome.complete and outcome.statuses == {"failed": 1}
    check_store(frame, 1)
    row = finals(frame).iloc[0]
    assert row["status"] == "failed"
    assert "low on memory" in row["error"] and "\n" not in row["error"], row["error"]
    assert list(retries.count.values()) == [1]
    print(f"\nout of memory: retried {retries.count}, error {row['error'][:90]!r}..., "
          f"{time.monotonic() - started:.0f} s")


def test_a_full_disk_stops_the_sweep_with_the_resume_line_then_resume_records_every_trial_once(
        local_ray: Path, tmp_path: Path, demo_root: Path, check_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The results store's disk fills up after a few rows (a patched writer raising ENOSPC): the sweep stops
    with one line naming the failure and the resume command; after space is freed, --resume ends the sweep."""
    base = config_from_flat({"data.dataset": "demo", "data.root": str(demo_root), "backbone.image_size": 64,
                             "seed": 0})
    options = SweepOptions(base=base, space=load_space("demo"), name="full", storage=str(tmp_path / "runs"),
                           num_samples=4, max_epochs=3, grace_period=3, concurrency=2, device="cpu", finalists=0)
    real_write = ResultStore.write_rows
    written: list[int] = []

    def write_until_full(store: ResultStore, rows: Any) -> None:
        if len(written) >= 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(store.root))
        written.append(len(rows))
        real_write(store, rows)

    monkeypatch.setattr(ResultStore, "write_rows", write_until_full)
    with pytest.raises(WriteFailed) as stopped:
        run_sweep(options, plan_categories(options, ["wood"]))
    line = str(stopped.value)
    assert "No space left on device" in line and "--resume --name full" in line and "\n" not in line
    kept = ResultStore(tmp_path / "runs").read(experiment="full")
    assert len(kept) == len(written) == 5  # what was written before the disk filled is all there

    monkeypatch.setattr(ResultStore, "write_rows", real_write)  # space freed
    resumed = dataclasses.replace(options, resume=True)
    (outcome,) = run_sweep(resumed, plan_categories(resumed, ["wood"]))
    assert outcome.complete
    frame = ResultStore(tmp_path / "runs").read(experiment="full")
    check_store(frame, 4)
    assert (finals(frame)["status"] == "finished").all()  # grace period = budget: nothing pruned, nothing lost
