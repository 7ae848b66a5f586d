"""Seconds per epoch with and without the clean-feature cache (default config, one demo category).

    python benchmarks/epoch_cache.py [--category wood] [--epochs 3]

Without the cache an epoch runs the backbone over the clean images it needs
(the normal training images it trains on and the test images it scores) as well
as the synthetic ones; with it, only the synthetic images go through the
backbone. "Without" is measured as a one-epoch run that computes its features,
"with" as the epochs of a run that reads them from the on-disk cache.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ssflow.backbone import build_backbone, weights_identity
from ssflow.config import config_from_flat
from ssflow.data import prepare_data
from ssflow.feature_cache import cache_key, cached_features
from ssflow.train import compute_run_features, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cpu")
    config = config_from_flat({"data.category": args.category, "train.epochs": args.epochs})
    data = prepare_data(config.data, config.backbone.image_size, config.seed)
    backbone = build_backbone(config.backbone.name, config.backbone.levels)

    uncached = []
    for _ in range(args.epochs):
        one_epoch = config_from_flat({"train.epochs": 1}, config)
        started = time.perf_counter()
        fit(one_epoch, data, device, backbone=backbone)  # computes the clean features itself
        uncached.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        key = cache_key(config, data, weights_identity(config.backbone.name))
        cached_features(Path(folder), key, device, lambda: compute_run_features(backbone, data, device))
        started = time.perf_counter()
        features, hit = cached_features(Path(folder), key, device, lambda: compute_run_features(backbone, data, device))
        load_seconds = time.perf_counter() - started
        cached = []
        fit(config, data, device, backbone=backbone, features=features,
            on_epoch=lambda report: cached.append(report.epoch_seconds))

    without, with_cache = statistics.median(uncached), statistics.median(cached)
    table = Table(title=f"seconds per epoch, default config, demo/{args.category} "
                        f"({platform.machine()}, {torch.get_num_threads()} threads)")
    for column in ("", "median s/epoch", "runs", "ratio to no cache"):
        table.add_column(column)
    table.add_row("no cache (clean images through the backbone)", f"{without:.2f}", str(len(uncached)), "1.00")
    table.add_row(f"cache (hit={hit}, loaded in {load_seconds:.2f} s)", f"{with_cache:.2f}", str(len(cached)),
                  f"{with_cache / without:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
