"""``run_search.py --dataset D``: the sweep, one study per category, with a live view."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Mapping

from rich.console import Console
from rich.table import Table

from cli.live_view import LiveView
from cli.resolve import resolve_config
from results.ranking import best_trials, trial_summary
from results.store import ResultStore
from search.cluster import connect, disconnect
from search.sweep import CategoryOutcome, SweepOptions, pruning_rungs, run_category
from spaces.space import SearchSpace, load_space
from ssflow.config import SSFlowConfig
from ssflow.datasets import DATASETS, default_root, list_categories, prepare_root
from ssflow.errors import UserInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=list(DATASETS))
    parser.add_argument("--data-root", default=None, help="dataset folder in its official layout")
    parser.add_argument("--categories", nargs="+", default=None, help="default: every category found")
    parser.add_argument("--space", default=None, help="space YAML or a shipped name (default, paper, demo)")
    parser.add_argument("--num-samples", type=int, default=12, help="trials per category")
    parser.add_argument("--max-epochs", type=int, default=None, help="full budget of a trial (ASHA max_t)")
    parser.add_argument("--grace-period", type=int, default=1, help="epochs before ASHA may prune")
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=None, help="trials at once per category")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--max-failures", type=int, default=2,
                        help="retries of a trial that crashed, each from its last checkpoint (0: none)")
    parser.add_argument("--gpus-per-trial", type=float, default=None,
                        help="fractions pack several trials per GPU (default: 1 on a CUDA machine, else 0)")
    parser.add_argument("--address", default=None, help="an existing Ray cluster, e.g. 10.0.0.5:6379 or auto")
    parser.add_argument("--storage", default="runs", help="folder or URI (s3://...) for results and checkpoints")
    parser.add_argument("--name", default=None, help="experiment name (default: <dataset>-<space>-<date>-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep of --name")
    parser.add_argument("--config", default=None, help="base config YAML or preset for settings the space fixes")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a base config key")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--feature-cache", default=None, metavar="DIR",
                        help="where trials share clean-image backbone features and synthetic banks "
                             "(default: <storage>/feature_cache "
                             "for a local storage, ~/.cache/ssflow/features otherwise); 'off' disables it")


def _validate(args: argparse.Namespace) -> None:
    positive = {"--num-samples": args.num_samples, "--grace-period": args.grace_period,
                "--cpus-per-trial": args.cpus_per_trial}
    for flag, value in positive.items():
        if value is not None and value <= 0:
            raise UserInputError(f"{flag} {value}: expected a value > 0")
    if args.max_epochs is not None and args.max_epochs < 1:
        raise UserInputError(f"--max-epochs {args.max_epochs}: expected an integer >= 1")
    if args.reduction_factor < 2:
        raise UserInputError(f"--reduction-factor {args.reduction_factor}: expected an integer >= 2")
    if args.max_failures < 0:
        raise UserInputError(f"--max-failures {args.max_failures}: expected an integer >= 0")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserInputError(f"--concurrency {args.concurrency}: expected an integer >= 1")
    if args.gpus_per_trial is not None and args.gpus_per_trial < 0:
        raise UserInputError(f"--gpus-per-trial {args.gpus_per_trial}: expected a value >= 0")


def _categories(args: argparse.Namespace, root: Path) -> list[str]:
    found = list_categories(args.dataset, root)
    if not args.categories:
        return found
    missing = [c for c in args.categories if c not in found]
    if missing:
        raise UserInputError(f"--categories: {', '.join(missing)} not in {args.dataset} at {root}; "
                             f"found {', '.join(found)}")
    return list(args.categories)


def _storage(value: str) -> str:
    if "://" in value:
        return value
    return str(Path(value).resolve())


def _feature_cache(args: argparse.Namespace) -> str:
    if args.feature_cache == "off":
        return ""
    if args.feature_cache:
        return str(Path(args.feature_cache).resolve())
    if "://" in args.storage:
        return str(Path.home() / ".cache" / "ssflow" / "features")
    return str(Path(args.storage).resolve() / "feature_cache")


def _quiet_ray() -> None:
    """Snapshot often (a killed driver then loses little) and keep Ray's chatter off the live view."""
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    for name in ("ray", "ray.tune", "ray.train", "optuna"):
        logging.getLogger(name).setLevel(logging.ERROR)


def sweep_options(args: argparse.Namespace, base: SSFlowConfig, space: SearchSpace, name: str,
                  resources: Mapping[str, float]) -> SweepOptions:
    """The sweep the flags ask for on a cluster with ``resources`` (Ray's totals: CPU, GPU)."""
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if resources.get("GPU") else 0.0)
    return SweepOptions(
        base=base, space=space, name=name, storage=_storage(args.storage), num_samples=args.num_samples,
        max_epochs=args.max_epochs or base.train.epochs, grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        concurrency=args.concurrency or max(1, int(resources.get("CPU", 1) // args.cpus_per_trial)),
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=gpus, max_failures=args.max_failures,
        device=args.device, resume=args.resume, feature_cache=_feature_cache(args),
    )


def run(args: argparse.Namespace, console: Console) -> int:
    _validate(args)
    space = load_space(args.space or ("demo" if args.dataset == "demo" else "default"))
    args.category = None
    base = resolve_config(args)
    root = prepare_root(args.dataset, Path(args.data_root) if args.data_root else default_root(args.dataset))
    categories = _categories(args, root)
    if args.resume and not args.name:
        raise UserInputError("--resume needs --name: the name of the sweep to continue (see 'run_search.py show')")
    name = args.name or f"{args.dataset}-{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _quiet_ray()
    resources = connect(args.address)
    try:
        options = sweep_options(args, base, space, name, resources)
        console.print(f"[bold]{name}[/]: {len(categories)} categories x {args.num_samples} trials, "
                      f"space {space.name}, up to {options.max_epochs} epochs (ASHA may stop trials at epochs "
                      f"{', '.join(map(str, pruning_rungs(options))) or 'none'}), {options.concurrency} at once, "
                      f"storage {options.storage}")
        outcomes = []
        for category in categories:
            view = LiveView(console, category, options.max_epochs, args.num_samples)
            try:
                outcomes.append(run_category(options, category, callbacks=[view]))
            finally:
                view.close()
                console.print()
            if not outcomes[-1].complete:
                break
    finally:
        disconnect()
    _print_summary(console, options, outcomes)
    if len(outcomes) < len(categories) or not all(o.complete for o in outcomes):
        console.print(f"[yellow]interrupted[/]: continue with the same command plus --resume --name {name}")
        return 130
    return 0


def _print_summary(console: Console, options: SweepOptions, outcomes: list[CategoryOutcome]) -> None:
    frame = ResultStore(options.storage).read(experiment=options.name)
    if frame.empty:
        return
    summary = trial_summary(frame)
    best = best_trials(frame)
    table = Table(title=f"{options.name}: summary", title_justify="left")
    for column in ("category", "trials", "finished", "pruned", "failed", "best selection objective",
                   "its report image AUROC", "its report AUPRO"):
        table.add_column(column)
    for outcome in outcomes:
        rows = summary[summary["category"] == outcome.category]
        if rows.empty:
            continue
        counts = rows["status"].value_counts()
        chosen = best[best["category"] == outcome.category]
        if chosen.empty:
            table.add_row(outcome.category, str(len(rows)), "0", str(counts.get("pruned", 0)),
                          str(counts.get("failed", 0)), "-", "-", "-")
            continue
        top = chosen.iloc[0]
        table.add_row(outcome.category, str(len(rows)), str(counts.get("finished", 0)),
                      str(counts.get("pruned", 0)), str(counts.get("failed", 0)),
                      f"{top['selection_objective']:.4f}", f"{top['report_image_auroc']:.4f}",
                      f"{top['report_aupro']:.4f}")
    console.print(table)
