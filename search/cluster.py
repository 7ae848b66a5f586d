"""Starting a local Ray or joining the user's cluster, with one-line errors."""

from __future__ import annotations

import os
import socket

import ray

from ssflow.errors import UserInputError

LOCALHOST = "127.0.0.1"


def _check_reachable(address: str, timeout: float = 3.0) -> None:
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


def connect(address: str | None, num_cpus: int | None = None, num_gpus: int | None = None,
            temp_dir: str | None = None) -> dict[str, float]:
    """Join ``address`` or start a local Ray sized to the machine; returns the cluster's resources.

    A local Ray listens on 127.0.0.1 only and runs without its dashboard.
    """
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserInputError(f"--address {address}: could not join the Ray cluster ({first})") from None
    else:
        ray.init(
            num_cpus=num_cpus or os.cpu_count(), num_gpus=num_gpus, include_dashboard=False,
            _node_ip_address=LOCALHOST, _temp_dir=temp_dir, log_to_driver=False,
        )
    return dict(ray.cluster_resources())


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()
