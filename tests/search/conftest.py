"""Real Ray processes and sweeps for the cluster and fault tests (marker ``cluster``).

Every process a test starts carries a tag in its environment
(``SSFLOW_TEST_TAG``) and leads its own process group. Ray processes inherit
one or the other (Ray starts its dashboard and runtime-env agents with a reduced
environment, but in the group of their ``ray start``), so teardown finds and
kills exactly what the test started, by process id: nodes, a driver's local Ray
and lingering trial workers of a killed driver. ``ray stop`` would stop every
Ray on the machine, other people's too, so it is never used.

Token authentication is on for every node and driver, as a real cluster needs.
Ray refuses several nodes in its loopback-only mode, so the nodes of a test
cluster advertise the machine's address (Ray turns ``127.0.0.1`` into it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import pandas as pd
import pytest

from results.store import ResultStore
from ssflow.datasets import prepare_root

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
RAY = str(Path(sys.executable).with_name("ray"))
TAG_VARIABLE = "SSFLOW_TEST_TAG"
OBJECT_STORE_BYTES = 100 * 1024**2
CATEGORY = "wood"
TINY = ("--set", "backbone.image_size=64")  # a few seconds per epoch on 2 CPU cores
NO_FINALISTS = ("--finalists", "0")  # these tests are about trials, not about picking the best config


# Processes -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def new_tag(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _process_group(pid_folder: Path) -> int | None:
    """The process group of a live process; None for a zombie or a vanished one."""
    try:
        fields = (pid_folder / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[2])


def owned_pids(tag: str, group: int) -> list[int]:
    """Live processes with ``SSFLOW_TEST_TAG=<tag>`` in their environment or in process group ``group``."""
    needle = f"{TAG_VARIABLE}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pgid = _process_group(entry)
        if pgid is None:
            continue
        try:
            tagged = needle in (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or another user's process
            tagged = False
        if tagged or pgid == group:
            found.append(int(entry.name))
    return found


def kill_owned(tag: str, group: int, timeout: float = 20.0) -> None:
    """SIGKILL the processes of :func:`owned_pids` until none is left (a dying raylet may spawn more)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = owned_pids(tag, group)
        if not pids:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of {tag} survive SIGKILL: {pids}")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def process_env(tag: str, token: str, folder: Path) -> dict[str, str]:
    """A test process's environment: its tag, token authentication, temporary files below ``folder``.

    ``TMPDIR`` also moves the default Ray temp dir of a driver that starts its own
    Ray there, away from the machine's shared ``/tmp/ray``.
    """
    temporary = folder / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env.update({
        TAG_VARIABLE: tag,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "RAY_USAGE_STATS_ENABLED": "0",
        "TMPDIR": str(temporary),
        "PYTHONPATH": str(REPO),
    })
    return env


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def short_folder() -> Path:
    """A new folder directly under /tmp: Ray's unix socket paths below it must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix="ssf", dir="/tmp"))


# A cluster of ray start processes ------------------------------------------------------------------------


@dataclass
class RayCluster:
    """A head node and worker nodes started with ``ray start --block``, 1 CPU each."""

    root: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    tags: dict[str, str] = field(default_factory=dict)  # node name -> tag
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    node_ids: dict[str, str] = field(default_factory=dict)  # node name -> Ray node id (hex)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, tag: str) -> dict[str, str]:
        return process_env(tag, self.token, self.root)

    def start_head(self) -> None:
        self._start("head", [
            "--head", f"--port={self.port}", "--include-dashboard=false", f"--dashboard-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
        ])
        wait_until(self._head_answers, 60, f"the Ray head at {self.address}")
        self._wait_for_node("head")

    def add_worker(self, name: str) -> None:
        self._head_answers()
        self._start(name, [
            f"--address={self.address}",
            f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
        ])
        self._wait_for_node(name)

    def label_suffix(self, name: str) -> str:
        """How the store's ``node`` value ends for rows of trials that ran on node ``name``."""
        return "/" + self.node_ids[name][:8]

    def kill(self, name: str) -> None:
        """SIGKILL a node: its ``ray start``, raylet, object store, agents and trial workers."""
        kill_owned(self.tags[name], self.processes[name].pid)
        self.processes[name].wait(timeout=10)

    def stop(self) -> None:
        for name in reversed(list(self.tags)):
            self.kill(name)

    def _start(self, name: str, flags: Sequence[str]) -> None:
        self.tags[name] = new_tag(name)
        command = [
            RAY, "start", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1",
            f"--object-store-memory={OBJECT_STORE_BYTES}", f"--temp-dir={self.root / name}",
            "--disable-usage-stats", *flags,
        ]
        with open(self.root / f"{name}.log", "wb") as log:
            self.processes[name] = subprocess.Popen(
                command, env=self.env(self.tags[name]), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _head_answers(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None and name not in self.node_ids:
                log = (self.root / f"{name}.log").read_text(errors="replace")
                raise RuntimeError(f"ray start ({name}) exited with {process.returncode}:\n{log[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _wait_for_node(self, name: str, timeout: float = 60.0) -> None:
        """Wait until the head lists node ``name`` alive (asked from a separate driver); learn its id.

        A node is recognised by its object store socket, which lies below its own temp dir.
        """
        prefix = f"{self.root / name}/"
        probe = (
            "import sys, time, ray\n"
            "ray.init(address='auto')\n"
            f"deadline = time.monotonic() + {timeout}\n"
            "while time.monotonic() < deadline:\n"
            "    found = [n['NodeID'] for n in ray.nodes()\n"
            f"             if n['Alive'] and n['ObjectStoreSocketName'].startswith({prefix!r})]\n"
            "    if found: print(found[0]); sys.exit(0)\n"
            "    time.sleep(0.5)\n"
            "sys.exit(1)\n"
        )
        env = {**self.env(new_tag("probe")), "RAY_ADDRESS": self.address}
        deadline = time.monotonic() + timeout
        while True:  # the head may not answer yet: retry the probe itself
            done = subprocess.run([PYTHON, "-c", probe], env=env, capture_output=True, text=True,
                                  timeout=timeout + 30)
            if done.returncode == 0:
                self.node_ids[name] = done.stdout.strip().splitlines()[-1]
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Ray node {name} not alive at {self.address} after {timeout:.0f} s: "
                                   f"{done.stderr.strip()[-500:]}")
            time.sleep(1.0)


class TwoNodes(NamedTuple):
    cluster: RayCluster
    worker: str  # the worker node's name in ``cluster``


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayCluster]:
    """A head node shared by a module's tests; every process of it is killed at the end."""
    cluster = RayCluster(short_folder())
    try:
        cluster.start_head()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def two_nodes(ray_head: RayCluster) -> Iterator[TwoNodes]:
    """The module's head plus a fresh worker node, killed after the test."""
    name = f"worker{len(ray_head.tags)}"
    try:
        ray_head.add_worker(name)
        yield TwoNodes(ray_head, name)
    finally:
        if name in ray_head.processes:
            ray_head.kill(name)


# Sweeps as subprocesses ----------------------------------------------------------------------------------


@dataclass
class Sweep:
    """A running ``run_search.py``: its process (a group leader), tag and log."""

    process: subprocess.Popen
    tag: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"sweep still running after {timeout:.0f} s:\n{self.output()[-3000:]}") from None

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
        """Poll ``condition`` while the sweep runs; its output in the error when it exits first or time runs out."""
        def met() -> bool:
            if condition():
                return True
            if self.process.poll() is not None and not condition():  # again: it may have been met on the way out
                raise AssertionError(f"sweep exited with {self.process.returncode} before {what}:\n"
                                     f"{self.output()[-3000:]}")
            return False
        try:
            wait_until(met, timeout, what, interval)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; sweep output:\n{self.output()[-3000:]}") from None

    def leftovers(self) -> list[int]:
        """Processes the sweep started that are still alive (its local Ray, trial workers)."""
        return owned_pids(self.tag, self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        kill_owned(self.tag, self.process.pid)


@dataclass
class Sweeps:
    """Starts ``run_search.py`` on one demo category at tiny settings and reads its rows."""

    folder: Path
    demo_root: Path
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    started: list[Sweep] = field(default_factory=list)

    @property
    def storage(self) -> Path:
        return self.folder / "runs"

    def env(self, tag: str) -> dict[str, str]:
        return process_env(tag, self.token, self.folder)

    def command(self, name: str, *flags: str) -> list[str]:
        """``run_search.py`` on the demo's category ``CATEGORY`` at tiny settings, into this folder's storage."""
        return [
            PYTHON, str(REPO / "run_search.py"), "--dataset", "demo", "--data-root", str(self.demo_root),
            "--categories", CATEGORY, *TINY, *NO_FINALISTS, "--storage", str(self.storage), "--name", name, *flags,
        ]

    def start(self, name: str, *flags: str, cluster: RayCluster | None = None) -> Sweep:
        """``run_search.py ... --name name <flags>``, on ``cluster`` (``--address``) or its own local Ray."""
        env = (cluster or self).env(new_tag("driver"))
        if cluster is not None:
            flags = (*flags, "--address", cluster.address)
        command = self.command(name, *flags)
        log = self.folder / f"{name}-{len(self.started)}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.started.append(Sweep(process, env[TAG_VARIABLE], log))
        return self.started[-1]

    def rows(self, name: str) -> pd.DataFrame:
        return ResultStore(self.storage).read(experiment=name)

    def failures(self, name: str) -> dict[str, int]:
        """Tune's failure count per trial key (how often it was retried), from the latest experiment snapshot."""
        folder = self.storage / "ray" / name
        snapshot = max(folder.glob("experiment_state-*.json"), key=lambda path: path.stat().st_mtime)
        counts = {}
        for state, runtime in json.loads(snapshot.read_text())["trial_data"]:
            state = json.loads(state) if isinstance(state, str) else state
            runtime = json.loads(runtime) if isinstance(runtime, str) else runtime
            key = state["config"]["key"]
            counts[key] = counts.get(key, 0) + int(runtime["num_failures"])
        return counts

    def stop(self) -> None:
        for sweep in self.started:
            sweep.stop()


@pytest.fixture(scope="session")
def demo_root() -> Path:
    """The generated demo dataset (generated once, if missing)."""
    return prepare_root("demo", REPO / "data" / "demo")


@contextlib.contextmanager
def sweep_runner(demo_root: Path) -> Iterator[Sweeps]:
    """A :class:`Sweeps` in a fresh short folder; whatever its sweeps started is killed at the end."""
    runner = Sweeps(short_folder(), demo_root)
    try:
        yield runner
    finally:
        runner.stop()
        shutil.rmtree(runner.folder, ignore_errors=True)


@pytest.fixture
def sweeps(demo_root: Path) -> Iterator[Sweeps]:
    """Sweep subprocesses of one test."""
    with sweep_runner(demo_root) as runner:
        yield runner


@pytest.fixture(scope="module")
def module_sweeps(demo_root: Path) -> Iterator[Sweeps]:
    """Sweep subprocesses sharing one storage across a module's tests (a sweep run once, compared often)."""
    with sweep_runner(demo_root) as runner:
        yield runner


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., None]:
    """``wait_for(condition, timeout, what, interval=0.2)``: poll until true or raise TimeoutError."""
    return wait_until


@pytest.fixture
def check_store() -> Callable[[pd.DataFrame, int], None]:
    return assert_store_consistent


def assert_store_consistent(frame: pd.DataFrame, trials: int) -> None:
    """``trials`` trials, each with one final row and running rows for epochs 1..k, none twice."""
    finals = frame[frame["status"] != "running"]
    assert finals["trial_id"].nunique() == trials, frame[["trial_id", "status", "epoch"]]
    assert finals["trial_id"].is_unique, finals[["trial_id", "status", "epoch"]]
    running = frame[frame["status"] == "running"]
    assert not running.duplicated(["trial_id", "epoch"]).any(), running[["trial_id", "epoch"]]
    for trial_id, rows in running.groupby("trial_id"):
        epochs = sorted(rows["epoch"].tolist())
        assert epochs == list(range(1, len(epochs) + 1)), (trial_id, epochs)
