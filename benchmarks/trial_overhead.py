"""The Ray trial wrapper's overhead: one trial through Tune against calling ``fit`` directly.

    python benchmarks/trial_overhead.py [--category wood] [--epochs 6]

Both paths load the category, build the backbone, compute the clean features
and train the same config for the same epochs; the Tune path adds the worker
process, the object-store transfer of the images, a checkpoint and a report per
epoch and the driver's bookkeeping. Ray's own start (once per sweep) is
excluded and shown separately.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch
from rich.console import Console
from rich.table import Table

from search.cluster import connect, disconnect
from search.options import SweepOptions
from search.sweep import plan_categories, run_sweep
from spaces.space import FixedParam, SearchSpace
from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import fit


def direct_seconds(config) -> float:
    started = time.perf_counter()
    data = prepare_data(config)
    fit(config, data, "cpu", inputs=prepare_run(config, data, torch.device("cpu")))
    return time.perf_counter() - started


def tune_seconds(config, epochs: int, storage: str) -> tuple[float, float]:
    started = time.perf_counter()
    connect(None, num_cpus=torch.get_num_threads())
    ray_start = time.perf_counter() - started
    space = SearchSpace("fixed", "one fixed config", (FixedParam("flow.coupling_blocks", config.flow.coupling_blocks),))
    options = SweepOptions(base=config, space=space, name="overhead", storage=storage, num_samples=1,
                           max_epochs=epochs, grace_period=epochs, concurrency=1,
                           cpus_per_trial=torch.get_num_threads(), feature_cache="", finalists=0)
    try:
        started = time.perf_counter()
        run_sweep(options, plan_categories(options, [config.data.category]))
        return time.perf_counter() - started, ray_start
    finally:
        disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    config = config_from_flat({"data.category": args.category, "train.epochs": args.epochs})
    direct = direct_seconds(config)
    with tempfile.TemporaryDirectory() as storage:
        through_tune, ray_start = tune_seconds(config, args.epochs, storage)
    overhead = through_tune - direct
    table = Table(title=f"Ray trial overhead, {args.epochs} epochs, demo/{args.category} "
                        f"({platform.machine()}, {torch.get_num_threads()} threads)")
    for column in ("path", "seconds", "overhead share of the trial"):
        table.add_column(column)
    table.add_row("fit() called directly", f"{direct:.1f}", "")
    table.add_row("one Tune trial (same work)", f"{through_tune:.1f}", f"{overhead / through_tune:.1%}")
    table.add_row("ray.init (once per sweep, not counted)", f"{ray_start:.1f}", "")
    Console().print(table)


if __name__ == "__main__":
    main()
