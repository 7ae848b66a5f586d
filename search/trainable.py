"""The Ray Tune trainable: a trial's spec -> config -> ``fit``, one report per epoch.

A trial's ``config`` is a :class:`search.studies.TrialSpec` as a dict: its
category, logical key, role, seed and the flat config values it applies.
Everything else arrives ready-made from the driver: each category's
:class:`TrialSetup` (base config, budget, cache keys) through
``tune.with_parameters``, and each category's prepared images through the
object store. A trial never reads a dataset path, so its node does not need
the dataset.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

import ray
import torch
from ray import tune

from search.checkpoints import EPOCH_FILE
from search.searcher import OBJECTIVE, TIME_ATTR
from ssflow.model.backbone import FeatureExtractor
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData
from ssflow.evaluation.evaluate import SplitMetrics
from ssflow.settings.flat_config import config_from_flat
from ssflow.model.flow import MultiScaleFlow
from ssflow.deployment.latency import inference_latency_ms
from ssflow.training.run_inputs import CacheSpec, prepare_run
from ssflow.devices import resolve_device
from ssflow.training.train import DIVERGED, EpochReport, fit
from ssflow.training.train_outliers import find_outliers, image_scores

STATE_FILE = "state.pt"


class TrialSetup(NamedTuple):
    """What every trial of one category shares (travels through the object store)."""

    base: SSFlowConfig  # dataset, category, seeds and everything the space leaves fixed
    max_epochs: int
    device: str  # auto | cpu | cuda
    # Clean features and synthetic banks shared by the trials of a node, per data variant (variant_key);
    # None values: no cache.
    caches: Mapping[str, CacheSpec | None]


def variant_key(config: SSFlowConfig) -> str:
    """Which data variant ``config`` trains on: its input size, tiling, scale and aspect handling."""
    data = config.data
    return (f"s{config.backbone.image_size}-t{data.tile_size}-o{data.tile_overlap:g}-x{data.scale:g}"
            f"-a{int(data.keep_aspect)}")


def describe_variant(config: SSFlowConfig) -> str:
    """The input settings of ``config`` for people, e.g. ``backbone.image_size=256, data.tile_size=512``."""
    data = config.data
    return (f"backbone.image_size={config.backbone.image_size}, data.tile_size={data.tile_size}, "
            f"data.tile_overlap={data.tile_overlap:g}, data.scale={data.scale:g}, "
            f"data.keep_aspect={str(data.keep_aspect).lower()}")


def trial_config(spec: Mapping[str, Any], setup: TrialSetup) -> SSFlowConfig:
    """The resolved config of a trial: the category's base, the trial's values and seed, the budget."""
    return config_from_flat({**spec["values"], "seed": spec["seed"], "train.epochs": setup.max_epochs},
                            setup.base)


def node_label() -> str:
    """``<hostname>/<first 8 hex digits of the Ray node id>``.

    Nodes on one machine, or containers that share a host name, report the same
    host name and IP; the node id tells them apart.
    """
    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


def _metric_row(prefix: str, metrics: SplitMetrics | None) -> dict[str, float | None]:
    names = SplitMetrics._fields
    values = metrics._asdict() if metrics is not None else dict.fromkeys(names)
    return {f"{prefix}_{name}": values[name] for name in names}


def _epoch_metrics(report: EpochReport, device: torch.device, latency_ms: float,
                   features_computed: bool) -> dict[str, Any]:
    threshold = report.threshold
    return {
        TIME_ATTR: report.epoch,
        OBJECTIVE: report.objective,
        **_metric_row("selection", report.selection),
        **_metric_row("report", report.report),
        **_metric_row("synthetic", report.validation),
        "loss": report.loss,
        "seconds": report.seconds,
        "epoch_seconds": report.epoch_seconds,
        "latency_ms": latency_ms,
        "features_computed": features_computed,
        "threshold": threshold.value if threshold else None,
        "report_precision": threshold.report_precision if threshold else None,
        "report_recall": threshold.report_recall if threshold else None,
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
        (Path(folder) / EPOCH_FILE).write_text(json.dumps({"epoch": report.epoch}))
        yield tune.Checkpoint.from_directory(folder)


def _load_checkpoint(resume_from: str) -> dict[str, Any] | None:
    """Tune's checkpoint of this trial (after a retry), else the one a resumed sweep names, else None."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None and resume_from:
        checkpoint = tune.Checkpoint(resume_from)
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)


def outlier_list(flow: MultiScaleFlow, train_features: list[torch.Tensor], data: PreparedData,
                 config: SSFlowConfig) -> str:
    """JSON list of the training images ``flow`` scores far above the rest (:mod:`ssflow.training.train_outliers`)."""
    paths, scores = image_scores(flow, train_features, data, config.map)
    return json.dumps([outlier.path for outlier in find_outliers(paths, scores)])


def tiles_per_image(data: PreparedData) -> int:
    """The model inputs one test image needs (its tiles; 1 in whole-image mode), rounded mean over the tests."""
    splits = [data.selection, data.report]
    return max(1, round(sum(len(split.images) for split in splits) / max(1, sum(len(split) for split in splits))))


def config_latency_ms(config: SSFlowConfig, backbone: FeatureExtractor, tiles: int = 1) -> float:
    """Inference ms per image of ``config``'s architecture on this node, its ``tiles`` inputs in one batch
    (its flow untrained: the arithmetic does not depend on the weights), measured once before training."""
    flow = MultiScaleFlow(backbone.channels, config.flow, config.seed).to(backbone.mean.device)
    return inference_latency_ms(flow, backbone, config.backbone.image_size, config.map, batch=tiles)


def run_trial(config: dict[str, Any], setups: Mapping[str, TrialSetup],
              data: Mapping[str, Mapping[str, ray.ObjectRef]]) -> None:
    """Function trainable; bind ``setups`` and ``data`` (object refs per category and data variant) with
    ``tune.with_parameters``."""
    setup = setups[config["category"]]
    run_config = trial_config(config, setup)
    variant = variant_key(run_config)
    prepared: PreparedData = ray.get(data[config["category"]][variant])
    device = resolve_device(setup.device)

    inputs = prepare_run(run_config, prepared, device, setup.caches[variant])
    latency_ms = config_latency_ms(run_config, inputs.backbone, tiles_per_image(prepared))

    def on_epoch(report: EpochReport) -> None:
        metrics = _epoch_metrics(report, device, latency_ms, inputs.features_computed)
        if report.epoch == run_config.train.epochs and report.flow is not None:  # the trial's last epoch
            metrics["train_outliers"] = outlier_list(report.flow, inputs.features.train, prepared, run_config)
            replicates = report.selection_replicates() if report.selection_replicates else None
            metrics["selection_replicates"] = None if replicates is None else [float(v) for v in replicates]
        with _checkpoint(report) as checkpoint:
            tune.report(metrics, checkpoint=checkpoint)

    result = fit(run_config, prepared, device, on_epoch=on_epoch, resume=_load_checkpoint(config["resume_from"]),
                 inputs=inputs)
    if result.status == DIVERGED:
        # A diverged trial is a result, not a crash: record it and let the sweep go on.
        tune.report({
            TIME_ATTR: result.epochs + 1, OBJECTIVE: 0.0, "status": DIVERGED,
            "error": result.reason, "seconds": result.seconds,
            "device": str(device), "node": node_label(),
        })
