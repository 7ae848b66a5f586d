"""Starting a local Ray or joining the user's cluster, with one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Iterator

import ray
from ray._private import ray_constants

from ssflow.errors import UserInputError

LOCALHOST = "127.0.0.1"


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Raise ``UserInputError`` when nothing answers at a ``host:port`` cluster address (others pass)."""
    host, sep, port = address.rpartition(":")
    if address in ("auto", "local") or address.startswith(("ray://", "anyscale://")) or not sep:
        return
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError):
        raise UserInputError(
            f"--address {address}: no Ray cluster answers there; start one with 'ray start --head' "
            "or leave --address out to run locally"
        ) from None


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """Keep 127.0.0.1 as the address of a local Ray started inside this block.

    On Linux Ray replaces 127.0.0.1 by the machine's outward address and then
    listens on every interface. In its single-machine mode (what it uses on macOS
    and Windows) the address stays 127.0.0.1 and every Ray process, workers
    included, listens there only. That mode is read once when ray is imported,
    so it is switched on just for the start.
    """
    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


def connect(address: str | None, num_cpus: int | None = None, num_gpus: int | None = None,
            temp_dir: str | None = None) -> dict[str, float]:
    """Join ``address`` or start a local Ray sized to the machine; returns the cluster's resources.

    A local Ray listens on 127.0.0.1 only and runs without its dashboard. It is
    always a new one: ``RAY_ADDRESS`` or a ``ray start`` earlier on this machine
    is joined only when asked for (``address="auto"``). ``address="local"``
    is the same as no address (Ray's own "local" would skip those defaults).
    """
    if address and address != "local":
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserInputError(f"--address {address}: could not join the Ray cluster ({first})") from None
    else:
        with _loopback_only():
            ray.init(
                address="local", num_cpus=num_cpus or os.cpu_count(), num_gpus=num_gpus, include_dashboard=False,
                _node_ip_address=LOCALHOST, _temp_dir=temp_dir, log_to_driver=False, logging_level=logging.ERROR,
            )
    return dict(ray.cluster_resources())


def quiet_ray() -> None:
    """Keep Ray's and Optuna's chatter off the terminal (set before the first sweep of a process).

    Ray Tune's own experiment snapshots are not what a resume reads (the
    studies and the results store are), so they are taken rarely.
    """
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "60")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    for name in ("ray", "ray.tune", "ray.train", "optuna"):
        logging.getLogger(name).setLevel(logging.ERROR)


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()
