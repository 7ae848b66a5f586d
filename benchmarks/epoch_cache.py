"""Seconds per epoch without caches, with the clean-feature cache, and with it plus a synthetic bank.

    python benchmarks/epoch_cache.py [--category wood] [--epochs 3] [--bank-rounds 2]
        [--backbone resnet18 [--backbone-weights FILE]]

Without caches an epoch runs the backbone over every image it needs: the
normal training images, their fresh synthetic counterparts and the test images
it scores. The clean-feature cache leaves only the synthetic images; a
synthetic bank (``synthesis.bank_rounds``) takes those out of the epoch too,
at a one-off cost per (synthesis settings, seed) that trials share on disk.
The flow and everything else is the default config in every row.

A second table counts the arithmetic of an epoch with torch's FlopCounterMode:
what the backbone spends in an uncached epoch (all that the caches remove)
against what the flow spends in every epoch, each beside the seconds it takes
(backbone: uncached minus fully cached epoch; flow: the fully cached epoch) and
the rate that gives. The cached epoch cannot get shorter than the flow's
arithmetic at the rate this machine runs it.

``--backbone`` swaps in another timm backbone to show how the saving grows with
the backbone's share of the arithmetic; without ``--backbone-weights`` it gets
random weights, which cost the same time (the quality numbers are meaningless
and not printed).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

import timm
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from ssflow.model.backbone import configured_backbone
from ssflow.model.backbone_weights import weights_identity
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData, prepare_data
from ssflow.training.feature_cache import bank_key, cache_key, cached_bank, cached_features, data_identity
from ssflow.training.run_features import RunFeatures, compute_run_features
from ssflow.model.features import images_to_tensor
from ssflow.settings.flat_config import config_from_flat
from ssflow.model.flow import MultiScaleFlow, image_nll_per_dim
from ssflow.training.run_inputs import RunInputs
from ssflow.training.synthetic_bank import build_synthetic_bank
from ssflow.training.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bank-rounds", type=int, default=2)
    parser.add_argument("--backbone", default=None, help="a timm name; default: the default config's backbone")
    parser.add_argument("--backbone-weights", default="", help="its weights file; default: random (timing only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        overrides = {}
        if args.backbone:
            overrides = {"backbone.name": args.backbone,
                         "backbone.weights": args.backbone_weights or _random_weights(args.backbone, Path(folder))}
        measure(args, overrides)


def _random_weights(name: str, folder: Path) -> str:
    path = folder / f"{name}-random.pt"
    torch.save(timm.create_model(name, pretrained=False).state_dict(), path)
    return str(path)


class EpochArithmetic(NamedTuple):
    backbone_gflop: float  # what an uncached epoch spends in the backbone
    flow_gflop: float  # what every epoch spends in the flow: training steps and scoring


def _gflop(run: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / 1e9


def epoch_arithmetic(config: SSFlowConfig, data: PreparedData, backbone: torch.nn.Module,
                     features: RunFeatures) -> EpochArithmetic:
    """Floating-point operations of one epoch, counted on one sample of each kind and scaled by the counts."""
    flow = MultiScaleFlow(backbone.channels, config.flow, config.seed)
    flow.fit_standardization(features.train)
    pair = [level[:2] for level in features.train]  # a normal sample and, standing in, a synthetic one
    # The loss's own arithmetic is elementwise and negligible next to the couplings.
    step_per_sample = _gflop(lambda: image_nll_per_dim(flow(pair)).mean().backward()) / 2
    with torch.no_grad():
        score_per_image = _gflop(lambda: flow([level[:1] for level in features.selection]))
        backbone_per_image = _gflop(lambda: backbone(images_to_tensor(data.train[:1], torch.device("cpu"))))
    trained = 2 * len(data.train)  # every normal image and its synthetic counterpart
    scored = len(data.selection.images) + len(data.report.images)
    return EpochArithmetic(backbone_gflop=backbone_per_image * (trained + scored),
                           flow_gflop=step_per_sample * trained + score_per_image * scored)


def measure(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    device = torch.device("cpu")
    config = config_from_flat({"data.category": args.category, "train.epochs": args.epochs,
                               "synthesis.bank_rounds": 0, **overrides})
    data = prepare_data(config)
    backbone = configured_backbone(config)
    weights_id = weights_identity(config.backbone.name, config.backbone.weights)
    identity = data_identity(data)

    uncached = []
    for _ in range(args.epochs):
        one_epoch = config_from_flat({"train.epochs": 1}, config)
        started = time.perf_counter()
        # The clean features computed in every epoch, as without a cache.
        fit(one_epoch, data, device, inputs=RunInputs(backbone, compute_run_features(backbone, data, device), None))
        uncached.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        def clean():
            return compute_run_features(backbone, data, device)

        cached_features(Path(folder), cache_key(config, identity, weights_id), device, clean)
        started = time.perf_counter()
        features, hit = cached_features(Path(folder), cache_key(config, identity, weights_id), device, clean)
        load_seconds = time.perf_counter() - started
        clean_only = []
        fit(config, data, device, inputs=RunInputs(backbone, features, None),
            on_epoch=lambda report: clean_only.append(report.epoch_seconds))

        banked_config = config_from_flat({"synthesis.bank_rounds": args.bank_rounds}, config)
        key = bank_key(banked_config, identity, weights_id)
        started = time.perf_counter()
        cached_bank(Path(folder), key, device, lambda: build_synthetic_bank(backbone, data, banked_config, device))
        build_seconds = time.perf_counter() - started
        bank, bank_hit = cached_bank(Path(folder), key, device, lambda: None)
        banked = []
        fit(banked_config, data, device, inputs=RunInputs(backbone, features, bank),
            on_epoch=lambda report: banked.append(report.epoch_seconds))

    without = statistics.median(uncached)
    table = Table(title=f"seconds per epoch, default config with backbone {config.backbone.name}, "
                        f"demo/{args.category} ({platform.machine()}, {torch.get_num_threads()} threads)")
    for column in ("", "median s/epoch", "epochs", "ratio to no cache", "one-off s"):
        table.add_column(column)
    table.add_row("no cache (every image through the backbone)", f"{without:.2f}", str(len(uncached)), "1.00", "")
    for label, epochs, one_off in (
        (f"clean-feature cache (hit={hit})", clean_only, f"{load_seconds:.2f} load"),
        (f"clean cache + synthetic bank, {args.bank_rounds} rounds (hit={bank_hit})", banked,
         f"{build_seconds:.2f} build"),
    ):
        seconds = statistics.median(epochs)
        table.add_row(label, f"{seconds:.2f}", str(len(epochs)), f"{seconds / without:.2f}", one_off)
    Console().print(table)
    cached = statistics.median(banked)
    print_arithmetic(epoch_arithmetic(config, data, backbone, features), without - cached, cached)


def print_arithmetic(arithmetic: EpochArithmetic, backbone_seconds: float, flow_seconds: float) -> None:
    table = Table(title="arithmetic per epoch (torch FlopCounterMode)")
    for column in ("", "GFLOP", "share of the GFLOP", "s/epoch", "GFLOP/s"):
        table.add_column(column)
    total = arithmetic.backbone_gflop + arithmetic.flow_gflop
    for label, gflop, seconds in (
        ("backbone: clean, synthetic and test images (what the caches remove)", arithmetic.backbone_gflop,
         backbone_seconds),
        ("flow: training steps and scoring (every epoch)", arithmetic.flow_gflop, flow_seconds),
    ):
        table.add_row(label, f"{gflop:.0f}", f"{gflop / total:.2f}", f"{seconds:.2f}", f"{gflop / seconds:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
