"""The Ray Tune trainable: a trial's sampled dict -> config -> ``fit``, one report per epoch.

Everything large (the category's images) arrives through the object store via
``tune.with_parameters``; the trial config holds only hyperparameters.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

import ray
import torch
from ray import tune

from spaces.space import SearchSpace
from spaces.tune_domains import decode_params
from ssflow.backbone import build_backbone, weights_identity
from ssflow.config import SSFlowConfig, config_from_flat
from ssflow.data import PreparedData
from ssflow.evaluate import SplitMetrics
from ssflow.feature_cache import bank_key, cache_key, cached_bank, cached_features
from ssflow.synthetic_bank import SyntheticBank, build_synthetic_bank
from ssflow.train import DIVERGED, EpochReport, RunFeatures, compute_run_features, fit, resolve_device

OBJECTIVE = "objective"  # selection-split objective: mean of image AUROC and AUPRO
TIME_ATTR = "epoch"
STATE_FILE = "state.pt"
FAILED_OBJECTIVE = 0.0  # what the searcher learns from a diverged trial: the worst score


class TrialSetup(NamedTuple):
    """What every trial of one category shares (travels through the object store)."""

    base: SSFlowConfig  # dataset, category, seed and everything the space leaves fixed
    space: SearchSpace
    max_epochs: int
    device: str  # auto | cpu | cuda
    feature_cache: str = ""  # folder for clean features and synthetic banks shared by trials; empty: no cache


def trial_config(params: Mapping[str, Any], setup: TrialSetup) -> SSFlowConfig:
    """The resolved config of a trial: base, then the sampled values, then the budget."""
    flat = decode_params(setup.space, params)
    flat["train.epochs"] = setup.max_epochs
    return config_from_flat(flat, setup.base)


def node_label() -> str:
    """``<hostname>/<first 8 hex digits of the Ray node id>``.

    Nodes on one machine, or containers that share a host name, report the same
    host name and IP; the node id tells them apart.
    """
    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


def _metric_row(prefix: str, metrics: SplitMetrics) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in metrics._asdict().items()}


def _epoch_metrics(report: EpochReport, device: torch.device) -> dict[str, Any]:
    return {
        TIME_ATTR: report.epoch,
        OBJECTIVE: report.selection.objective,
        **_metric_row("selection", report.selection),
        **_metric_row("report", report.report),
        "loss": report.loss,
        "seconds": report.seconds,
        "epoch_seconds": report.epoch_seconds,
        "status": "running",
        "error": "",
        "device": str(device),
        "node": node_label(),
    }


@contextlib.contextmanager
def _checkpoint(report: EpochReport) -> Iterator[tune.Checkpoint]:
    """The epoch's state in a temporary folder, removed on exit.

    ``tune.report`` copies a checkpoint into the experiment's storage before it
    returns, so the folder is only needed while reporting; kept, one folder per
    epoch and trial would fill the nodes' temporary disk.
    """
    with tempfile.TemporaryDirectory(prefix="ssflow-ckpt-") as folder:
        torch.save(report.checkpoint(), Path(folder) / STATE_FILE)
        yield tune.Checkpoint.from_directory(folder)


def _load_checkpoint() -> dict[str, Any] | None:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)


def _clean_features(config: SSFlowConfig, data: PreparedData, backbone: torch.nn.Module, device: torch.device,
                    cache_dir: str) -> RunFeatures:
    def compute() -> RunFeatures:
        return compute_run_features(backbone, data, device)

    if not cache_dir:
        return compute()
    key = cache_key(config, data, weights_identity(config.backbone.name, config.backbone.weights))
    return cached_features(Path(cache_dir), key, device, compute)[0]


def bank_is_shared(space: SearchSpace) -> bool:
    """Whether the trials of a sweep can share one synthetic bank: the space varies no synthesis setting.

    A space that samples synthesis settings gives every trial its own bank, which
    is then kept in memory only: written to disk it would never be read again and
    would cost tens of MB per trial.
    """
    return not any(p.name.startswith("synthesis.") or p.name == "seed" for p in space.searched())


def _synthetic_bank(config: SSFlowConfig, data: PreparedData, backbone: torch.nn.Module, device: torch.device,
                    cache_dir: str) -> SyntheticBank | None:
    """The trial's bank when it uses one, from ``cache_dir`` when that is given."""
    if not config.synthesis.bank_rounds:
        return None

    def compute() -> SyntheticBank:
        return build_synthetic_bank(backbone, data, config, device)

    if not cache_dir:
        return compute()
    key = bank_key(config, data, weights_identity(config.backbone.name, config.backbone.weights))
    return cached_bank(Path(cache_dir), key, device, compute)[0]


def run_trial(params: dict[str, Any], setup: TrialSetup, data: PreparedData) -> None:
    """Function trainable; bind ``setup`` and ``data`` with ``tune.with_parameters``."""
    config = trial_config(params, setup)
    device = resolve_device(setup.device)

    def on_epoch(report: EpochReport) -> None:
        with _checkpoint(report) as checkpoint:
            tune.report(_epoch_metrics(report, device), checkpoint=checkpoint)

    backbone = build_backbone(config.backbone.name, config.backbone.levels, config.backbone.weights, device)
    features = _clean_features(config, data, backbone, device, setup.feature_cache)
    shared_bank_dir = setup.feature_cache if bank_is_shared(setup.space) else ""
    bank = _synthetic_bank(config, data, backbone, device, shared_bank_dir)
    result = fit(config, data, device, on_epoch=on_epoch, resume=_load_checkpoint(), backbone=backbone,
                 features=features, bank=bank)
    if result.status == DIVERGED:
        # A diverged trial is a result, not a crash: record it and let the sweep go on.
        tune.report({
            TIME_ATTR: result.epochs + 1, OBJECTIVE: FAILED_OBJECTIVE, "status": "failed",
            "error": f"diverged: {result.reason}", "seconds": result.seconds,
            "device": str(device), "node": node_label(),
        })
