"""One driver per sweep: the lease in the study database, and two real drivers started on one sweep name."""

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from cli.main import main
from search.driver_lease import STALE_AFTER_S, DriverLease, lease_name
from search.studies import open_storage
from ssflow.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")


def test_a_second_driver_is_refused_naming_the_first(storage):
    with DriverLease(storage, "sweep", host="node-a", pid=os.getpid()) as first:
        assert first.acquire() == ""
        with pytest.raises(UserInputError) as refused:
            DriverLease(storage, "sweep", host="node-b", pid=1).acquire()
        message = str(refused.value)
        assert f"pid {os.getpid()} on node-a" in message and "--take-over" in message and "\n" not in message
        assert DriverLease(storage, "other-sweep").acquire() == ""  # other sweeps are not affected
    assert lease_name("sweep") not in {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert DriverLease(storage, "sweep").acquire() == ""  # released at the end


def test_a_lease_whose_driver_is_gone_is_taken_over(storage):
    stopped = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True, check=True)
    dead_pid = int(stopped.stdout)
    DriverLease(storage, "same-host", host="here", pid=dead_pid).acquire()
    note = DriverLease(storage, "same-host", host="here").acquire()
    assert f"pid {dead_pid} on here" in note and "no longer running" in note

    now = [1_000_000.0]
    DriverLease(storage, "other-host", clock=lambda: now[0], host="node-a", pid=1).acquire()
    now[0] += STALE_AFTER_S / 2
    with pytest.raises(UserInputError):
        DriverLease(storage, "other-host", clock=lambda: now[0], host="node-b").acquire()
    now[0] += STALE_AFTER_S
    assert "last refreshed it" in DriverLease(storage, "other-host", clock=lambda: now[0], host="node-b").acquire()


def test_take_over_is_explicit_and_the_first_driver_notices(storage):
    first = DriverLease(storage, "sweep", host="node-a", pid=1)
    first.acquire()
    second = DriverLease(storage, "sweep", host="node-b")
    assert "--take-over from pid 1 on node-a" in second.acquire(take_over=True)
    first.refresh()
    assert first.lost
    first.release()  # must not delete the new holder's lease
    assert second.holder().host == "node-b"


def test_a_driver_still_running_here_cannot_be_taken_over(storage):
    DriverLease(storage, "sweep", host="here", pid=os.getpid()).acquire()
    with pytest.raises(UserInputError, match=f"still runs on this machine; stop it first \\(kill {os.getpid()}\\)"):
        DriverLease(storage, "sweep", host="here", pid=os.getpid() + 1).acquire(take_over=True)


@pytest.mark.slow
def test_two_drivers_started_on_one_sweep(small_demo_root, tmp_path, capsys):
    """The first driver runs to the end; the second, started while it runs, is refused in one line naming it."""
    storage = tmp_path / "runs"
    arguments = ["--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood",
                 "--storage", str(storage), "--name", "shared", "--num-samples", "3", "--max-epochs", "3",
                 "--finalists", "0", "--set", "backbone.image_size=64", "--concurrency", "1"]
    first = subprocess.Popen([sys.executable, str(REPO / "run_search.py"), *arguments], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # --resume needs the sweep's manifest, written once the first driver starts its trials
        assert _wait_for(storage / "ray" / "shared" / "sweep.json"), first.communicate()[1][-2000:]
        database = open_storage(f"sqlite:///{storage / 'optuna.db'}")
        assert _wait_for_lease(database, "shared")
        before = sorted(path.name for path in storage.rglob("*"))
        assert main([*arguments, "--resume"]) == 2
        line = capsys.readouterr().err.strip()
        assert "\n" not in line and "Traceback" not in line
        assert "another driver runs this sweep" in line and f"pid {first.pid}" in line
        assert set(before) <= {path.name for path in storage.rglob("*")}  # nothing of the first run removed
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    assert lease_name("shared") not in {s.study_name for s in optuna.get_all_study_summaries(database)}


def _wait_for(path: Path, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _wait_for_lease(storage, sweep: str, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lease_name(sweep) in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            return True
        time.sleep(0.2)
    return False
