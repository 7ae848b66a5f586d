"""ASHA against running the same trials to the full budget: compute spent and best objective reached.

    python benchmarks/asha_budget.py [--category wood] [--num-samples 12] [--max-epochs 8] [--concurrency 1]
        [--grace-period 1] [--reduction-factor 3] [--trials-csv trials.csv]

First a demo sweep with ASHA (grace period and reduction factor default to the
search command's) over the demo space; then every configuration that sweep
tried is trained to the full budget with ``fit``. Compute is training +
evaluation seconds summed over trials, the same clock on both sides: with the
default ``--concurrency 1`` every ASHA trial has the whole machine, as every
full-budget run has (trials sharing the cores would each report slower
epochs). Epochs trained are counted too. Per-trial setup (data, features,
synthetic bank) is the same number of trials on both sides and shows in the
wall time only. The objective is the selection-split objective at a trial's
last epoch.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from results.ranking import trial_summary
from results.store import ResultStore
from search.cluster import connect, disconnect
from search.options import SweepOptions
from search.sweep import plan_categories, run_sweep
from spaces.space import load_space
from ssflow.settings.config_files import flatten_nested
from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import fit


def asha_sweep(args: argparse.Namespace, storage: str):
    base = config_from_flat({"data.category": args.category})
    options = SweepOptions(base=base, space=load_space("demo"), name="asha", storage=storage,
                           num_samples=args.num_samples, max_epochs=args.max_epochs,
                           grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                           concurrency=args.concurrency,
                           cpus_per_trial=max(1, torch.get_num_threads() // args.concurrency),
                           feature_cache=f"{storage}/feature_cache", finalists=0)
    plans = plan_categories(options, [args.category])
    connect(None, num_cpus=torch.get_num_threads())
    try:
        run_sweep(options, plans)
    finally:
        disconnect()
    rows = ResultStore(storage).read(experiment="asha")
    # The first result each trial wrote gives the order the trials started in.
    first_report = rows.groupby("trial_id")["written_at"].min()
    summary = trial_summary(rows).reset_index()
    return summary.assign(first_report=summary["trial_id"].map(first_report)).sort_values("first_report")


def full_budget(summary, epochs: int) -> list[tuple[float, float]]:
    """(final objective, seconds) of every swept config trained for ``epochs``."""
    outcomes = []
    first = config_from_flat(flatten_nested(json.loads(summary.iloc[0]["config_json"]), "store"))
    data = prepare_data(first)
    inputs = prepare_run(first, data, torch.device("cpu"))
    for config_json in summary["config_json"]:
        config = config_from_flat({"train.epochs": epochs},
                                  config_from_flat(flatten_nested(json.loads(config_json), "store")))
        result = fit(config, data, "cpu", inputs=inputs._replace(bank=None))  # each config builds its own bank
        objective = result.selection.objective if result.selection else 0.0
        outcomes.append((objective, result.seconds))
    return outcomes


def write_trials(summary: pd.DataFrame, full: list[tuple[float, float]], path: Path) -> None:
    """ASHA's outcome beside the full-budget one, per trial, in proposal order."""
    trials = summary[["trial_id", "status", "last_epoch", "selection_objective", "seconds"]].assign(
        full_budget_objective=[objective for objective, _ in full],
        full_budget_seconds=[seconds for _, seconds in full],
    )
    trials.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--num-samples", type=int, default=12)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1, help="ASHA trials at once")
    parser.add_argument("--grace-period", type=int, default=1, help="as the search command's flag")
    parser.add_argument("--reduction-factor", type=int, default=3, help="as the search command's flag")
    parser.add_argument("--trials-csv", type=Path, default=None,
                        help="write one row per trial, in the order the searcher proposed them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as storage:
        started = time.perf_counter()
        summary = asha_sweep(args, storage)
        asha_wall = time.perf_counter() - started
    finished = summary[summary["status"] == "finished"]
    asha_best = float(finished["selection_objective"].max()) if len(finished) else float("nan")
    asha_seconds = float(summary["seconds"].sum())
    started = time.perf_counter()
    full = full_budget(summary, args.max_epochs)
    full_wall = time.perf_counter() - started
    full_best = max(objective for objective, _ in full)
    full_seconds = sum(seconds for _, seconds in full)
    if args.trials_csv:
        write_trials(summary, full, args.trials_csv)
    counts = summary["status"].value_counts().to_dict()
    table = Table(title=f"ASHA vs full budget, demo/{args.category}, {args.num_samples} trials x "
                        f"{args.max_epochs} epochs, grace {args.grace_period}, reduction {args.reduction_factor} "
                        f"({platform.machine()}, {torch.get_num_threads()} threads)")
    asha_epochs = int(summary["last_epoch"].sum())
    full_epochs = len(full) * args.max_epochs
    for column in ("", "best selection objective", "epochs", "compute (s)", "share of full-budget compute",
                   "wall (s)"):
        table.add_column(column)
    table.add_row(f"ASHA ({counts})", f"{asha_best:.4f}", str(asha_epochs), f"{asha_seconds:.0f}",
                  f"{asha_seconds / full_seconds:.0%}",
                  f"{asha_wall:.0f} (Ray start, {args.concurrency} trial(s) at a time)")
    table.add_row("same configs, full budget", f"{full_best:.4f}", str(full_epochs), f"{full_seconds:.0f}", "100%",
                  f"{full_wall:.0f} (one after another)")
    table.add_row("gap to the full-budget best", f"{full_best - asha_best:+.4f}", "", "", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
