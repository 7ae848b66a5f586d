"""How busy a sweep keeps a cluster: every category at once against one category after another.

    python benchmarks/cluster_scale.py [--slots 16] [--categories 15] [--trials 32] [--max-epochs 20]
        [--seconds-per-epoch 3] [--space default] [--grace-period 1] [--reduction-factor 3]
        [--orders concurrent sequential]

A local Ray with ``--slots`` logical CPUs (far more than the machine has:
trials sleep instead of computing) runs the real sweep code (searcher with
one Optuna study per category, ASHA per category, the results store
callback) over stand-in trials (:mod:`benchmarks.standin`) that sleep each
epoch for the time a real trial of the same config takes, scaled so the
default config's epoch lasts ``--seconds-per-epoch``. The same categories,
trials and budget run twice: concurrently (one sweep, ``--concurrency`` =
slots over all categories) and sequentially (one sweep per category, each
with every slot), as the sweep ran before. Printed per order: wall time,
slot utilisation = busy slot-seconds / (slots x wall), where a slot is busy
from a trial's start to its end, and the driver's CPU seconds per reported
epoch (Tune's loop, searcher, scheduler, store writes). Finalists are off in
both orders (they repeat configs; the comparison is about the search).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune
from rich.console import Console
from rich.table import Table
from standin import StandInSetup, standin_trial  # benchmarks/ is on sys.path (and so on the workers')

from search.cluster import connect, disconnect, quiet_ray
from search.options import SweepOptions
from search.sweep import CategoryPlan, run_sweep
from spaces.space import load_space
from ssflow.settings.flat_config import config_from_flat


ORDERS = ("concurrent", "sequential")


class SlotClock(tune.Callback):
    """Busy slot-seconds and reported epochs, from the driver's view of trial starts and ends."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.busy = 0.0
        self.epochs = 0

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.started[trial.trial_id] = time.monotonic()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.epochs += 1

    def _end(self, trial: Any) -> None:
        started = self.started.pop(trial.trial_id, None)
        if started is not None:
            self.busy += time.monotonic() - started

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial)


@dataclass
class Measured:
    order: str
    wall: float
    busy: float
    epochs: int
    trials: int
    driver_cpu: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=16, help="trials at once: a 16-GPU cluster")
    parser.add_argument("--categories", type=int, default=15)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--seconds-per-epoch", type=float, default=3.0,
                        help="the default config's epoch (shorter ones measure Ray's trial start-up, not the order)")
    parser.add_argument("--space", default="default")
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--orders", nargs="+", choices=ORDERS, default=list(ORDERS),
                        help="which orders to run (the comparison needs both, in one run)")
    return parser.parse_args()


def options_for(args: argparse.Namespace, storage: Path, name: str) -> SweepOptions:
    return SweepOptions(base=config_from_flat({"data.dataset": "demo"}), space=load_space(args.space), name=name,
                        storage=str(storage), num_samples=args.trials, max_epochs=args.max_epochs,
                        grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                        concurrency=args.slots, max_failures=0, device="cpu", finalists=0)


def plans_for(args: argparse.Namespace, options: SweepOptions, categories: list[str]) -> list[CategoryPlan]:
    plans = []
    for category in categories:
        base = config_from_flat({"data.category": category}, options.base)
        setup = StandInSetup(base, args.max_epochs, args.seconds_per_epoch)
        plans.append(CategoryPlan(category, setup, None, label_free=False))  # stand-ins read no images
    return plans


def measure(order: str, args: argparse.Namespace, storage: Path, groups: list[list[str]]) -> Measured:
    clock = SlotClock()
    cpu, started = time.process_time(), time.monotonic()
    trials = 0
    for index, categories in enumerate(groups):
        options = options_for(args, storage, f"{order}-{index}")
        outcomes = run_sweep(options, plans_for(args, options, categories), callbacks=[clock],
                             trainable=standin_trial)
        trials += sum(sum(outcome.statuses.values()) for outcome in outcomes)
    return Measured(order, time.monotonic() - started, clock.busy, clock.epochs, trials, time.process_time() - cpu)


def main() -> None:
    args = parse_args()
    console = Console()
    categories = [f"c{index:02d}" for index in range(1, args.categories + 1)]
    storage = Path(tempfile.mkdtemp(prefix="cluster-scale-"))
    quiet_ray()
    connect(None, num_cpus=args.slots)
    try:
        groups = {"concurrent": [categories], "sequential": [[category] for category in categories]}
        rows = [measure(order, args, storage, groups[order]) for order in args.orders]
    finally:
        disconnect()
        shutil.rmtree(storage, ignore_errors=True)
    table = Table(title=f"{args.categories} categories x {args.trials} trials, {args.max_epochs}-epoch budget, "
                        f"{args.slots} slots, space {args.space} (default config epoch {args.seconds_per_epoch} s)",
                  title_justify="left")
    for column in ("order", "trials", "epochs", "wall s", "slot utilisation", "wall vs sequential",
                   "driver CPU ms / epoch"):
        table.add_column(column, justify="left" if column == "order" else "right")
    sequential = next((row.wall for row in rows if row.order == "sequential"), None)
    for row in rows:
        table.add_row(row.order, str(row.trials), str(row.epochs), f"{row.wall:.0f}",
                      f"{row.busy / (args.slots * row.wall):.1%}",
                      "-" if sequential is None else f"{row.wall / sequential:.2f}x",
                      f"{1000 * row.driver_cpu / max(row.epochs, 1):.1f}")
    console.print(table)
    console.print(f"{platform.processor() or platform.machine()}, {platform.python_version()}")


if __name__ == "__main__":
    main()
