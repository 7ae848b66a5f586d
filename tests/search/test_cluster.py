"""A real two-node Ray cluster on one machine, a worker node lost mid-sweep, and the safe defaults.

Nodes are ``ray start`` processes with token authentication; sweeps are
``run_search.py --address`` subprocesses. Both nodes share host name and IP, so
rows tell them apart by the Ray node id in ``node`` (``<host>/<id prefix>``).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
import ray
import torch
from ray._private.worker import get_dashboard_url

from search.cluster import connect, disconnect
from spaces.space import load_space
from ssflow.settings.config_files import load_config_file
from ssflow.errors import UserInputError
from ssflow.deployment.model_io import load_model

LOST_WORKER_EPOCHS = 4  # the lost-worker sweep's budget: a trial seen at epoch 1 or 2 has two or more to go


def node_names(frame: pd.DataFrame, cluster: Any) -> pd.Series:
    """Which of the cluster's nodes wrote each row, from the node id prefix in ``node``."""
    names = {cluster.label_suffix(name): name for name in cluster.node_ids}
    return frame["node"].map(lambda label: names.get("/" + label.rsplit("/", 1)[-1], label))


@pytest.mark.cluster
def test_trials_run_on_both_nodes(two_nodes: Any, sweeps: Any, check_store: Any) -> None:
    cluster, worker = two_nodes
    started = time.monotonic()
    sweep = sweeps.start("multi", "--num-samples", "2", "--max-epochs", "2", cluster=cluster)
    assert sweep.wait(timeout=240) == 0, sweep.output()[-3000:]

    frame = sweeps.rows("multi")
    check_store(frame, 2)
    frame["on"] = node_names(frame, cluster)
    per_node = frame[frame["status"] != "running"].groupby("on")["trial_id"].nunique().to_dict()
    # Two 1-CPU nodes and two trials at once: one runs on each.
    assert per_node == {"head": 1, worker: 1}, frame[["trial_id", "status", "node"]]
    assert frame["node_ip"].notna().all()
    # Checkpoint folders are temporary: nothing is left on the nodes' temporary disk.
    assert not list((cluster.root / "tmp").glob("ssflow-ckpt-*"))
    print(f"\nmulti-node: finished trials per node {per_node}, {time.monotonic() - started:.0f} s")


@pytest.mark.cluster
def test_sweep_survives_a_lost_worker(two_nodes: Any, sweeps: Any, check_store: Any) -> None:
    cluster, worker = two_nodes
    name, suffix = "lost-worker", cluster.label_suffix(worker)
    started = time.monotonic()
    # No pruning (grace period = budget): every trial has to reach its last epoch. At 128 px an epoch takes
    # about a second, so a trial seen midway on the worker is still running when the worker is killed.
    budget = str(LOST_WORKER_EPOCHS)
    sweep = sweeps.start(name, "--num-samples", "2", "--max-epochs", budget, "--grace-period", budget,
                         "--set", "backbone.image_size=128", cluster=cluster)

    def worker_trial_midway() -> bool:
        frame = sweeps.rows(name)
        ended = set(frame.loc[frame["status"] != "running", "trial_id"])
        rows = frame[(frame["status"] == "running") & frame["node"].str.endswith(suffix)]
        return bool((~rows["trial_id"].isin(ended) & (rows["epoch"] < LOST_WORKER_EPOCHS - 1)).any())

    sweep.wait_until(worker_trial_midway, 180, "a running row from the worker node", interval=0.25)
    before = sweeps.rows(name)
    cluster.kill(worker)
    killed = time.monotonic()
    assert sweep.wait(timeout=300) == 0, sweep.output()[-3000:]

    frame = sweeps.rows(name)
    check_store(frame, 2)
    finals = frame[frame["status"] != "running"].set_index("trial_id")
    assert (finals["status"] == "finished").all(), finals[["status", "error"]]
    ended_before = set(before.loc[before["status"] != "running", "trial_id"])
    lost = set(before.loc[before["node"].str.endswith(suffix), "trial_id"]) - ended_before
    assert lost
    for trial_id in lost:
        assert finals.loc[trial_id, "node"].endswith(cluster.label_suffix("head"))  # retried on the head
        # Resumed from its checkpoint: the epochs it had reported were not trained again.
        kept = before[(before["trial_id"] == trial_id) & (before["status"] == "running")]
        after = frame[(frame["trial_id"] == trial_id) & (frame["status"] == "running")]
        merged = kept.merge(after, on="epoch", suffixes=("_before", "_after"))
        assert len(merged) == len(kept) > 0
        assert (merged["written_at_before"] == merged["written_at_after"]).all()
        assert merged["node_after"].str.endswith(suffix).all()
    failures = sweeps.failures(name)
    assert all(failures[trial_id] >= 1 for trial_id in lost), failures
    print(f"\nlost worker: {len(lost)} trial(s) lost mid-run, failures per trial {failures}; the sweep ended "
          f"{time.monotonic() - killed:.0f} s after the kill, {time.monotonic() - started:.0f} s in all")


# Safe defaults -------------------------------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _open_files(pid: int) -> list[str]:
    try:
        return [os.readlink(fd) for fd in (Path("/proc") / str(pid) / "fd").iterdir()]
    except OSError:  # the process ended meanwhile
        return []


def session_pids(temp_dir: str) -> set[int]:
    """This process and the processes it started that belong to the Ray whose temp dir is ``temp_dir``.

    Ray renames its workers (``ray::IDLE``), but every Ray process keeps log
    files below the temp dir open.
    """
    found = {os.getpid()}
    for pid in _descendants(os.getpid()):
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if temp_dir in command or any(path.startswith(temp_dir) for path in _open_files(pid)):
            found.add(pid)
    return found


def _socket_inodes(pid: int) -> set[str]:
    return {target[8:-1] for target in _open_files(pid) if target.startswith("socket:[")}


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``/proc/net/tcp*`` addresses: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_addresses(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the processes ``pids`` listen on."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                host, port = fields[1].split(":")
                address = _address(host)
                mapped = getattr(address, "ipv4_mapped", None)
                found.append((str(mapped or address), int(port, 16)))
    return found


@pytest.fixture(params=[None, "local"], ids=["no-address", "address-local"])
def local_ray(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``connect(None)`` as the command line calls it (``--address local`` must be the same), with a stale
    ``RAY_ADDRESS`` that must not be joined."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    folder = tempfile.mkdtemp(prefix="ssf", dir="/tmp")  # short: unix socket paths are limited
    connect(request.param, num_cpus=1, temp_dir=folder)
    try:
        yield folder
    finally:
        disconnect()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.cluster
def test_local_ray_listens_on_loopback_only_without_dashboard(local_ray: str) -> None:
    @ray.remote
    def where() -> str:
        return ray.util.get_node_ip_address()

    assert ray.get(where.remote()) == "127.0.0.1"  # also starts a worker process, listening too
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert [node["NodeManagerAddress"] for node in ray.nodes()] == ["127.0.0.1"]
    pids = session_pids(local_ray)
    listening = listening_addresses(pids)
    assert len(pids) >= 4 and len(listening) >= 4  # driver, GCS, raylet, worker: the check below is not vacuous
    assert {host for host, _ in listening} == {"127.0.0.1"}, listening
    assert not get_dashboard_url()
    assert 8265 not in {port for _, port in listening}  # Ray's dashboard port


class _RunsCode:
    """Pickles to a call of ``Path.touch``: loading it with plain pickle creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_model_file_with_pickled_code_is_refused(tmp_path: Path) -> None:
    model, marker = tmp_path / "model.pt", tmp_path / "code-ran"
    torch.save({"format": "ssflow-model/1", "config": {}, "payload": _RunsCode(marker)}, model)
    with pytest.raises(UserInputError) as caught:
        load_model(model)
    message = str(caught.value)
    assert str(model) in message and "\n" not in message
    assert not marker.exists()


PYTHON_TAG = "!!python/object/apply:pathlib.Path.touch [{marker}]"


def test_space_file_with_python_tag_is_refused(tmp_path: Path) -> None:
    space, marker = tmp_path / "space.yaml", tmp_path / "code-ran"
    space.write_text(f"parameters:\n  train.lr: {PYTHON_TAG.format(marker=marker)}\n")
    with pytest.raises(UserInputError) as caught:
        load_space(space)
    message = str(caught.value)
    assert str(space) in message and "not valid YAML" in message and "\n" not in message
    assert not marker.exists()


def test_config_file_with_python_tag_is_refused(tmp_path: Path) -> None:
    config, marker = tmp_path / "config.yaml", tmp_path / "code-ran"
    config.write_text(f"train:\n  lr: {PYTHON_TAG.format(marker=marker)}\n")
    with pytest.raises(UserInputError) as caught:
        load_config_file(config)
    message = str(caught.value)
    assert str(config) in message and "not valid YAML" in message and "\n" not in message
    assert not marker.exists()
