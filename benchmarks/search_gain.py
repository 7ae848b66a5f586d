"""Does the search pay? A sweep's exported configs against the default, each trained with several seeds.

    python benchmarks/search_gain.py [--dataset demo-hard] [--space default] [--num-samples 10]
        [--finalists 3] [--finalist-seeds 2] [--max-epochs 10] [--seeds 0 1 2]
        [--objectives quality synthetic] [--patchcore] [--output benchmarks/results/search_gain.csv]
        [--storage DIR --resume]

For each objective: one sweep of every category (its budget printed: trials,
epochs, compute and wall seconds), then its export; then the exported config
and the sweep's base config (the default, with the sweep's data settings) are
each trained with every ``--seeds`` training seed on the same fixed split
(``data.split_seed`` 0, the sweep's) and scored on the report split, which
the sweep never saw. Printed per category and on average: image AUROC, pixel
AUROC, AUPRO and the objective (image AUROC + AUPRO) / 2, mean ± std over
seeds, and the gain of the exported config. For the label-free sweep
(``synthetic``: tuned on synthetic validation anomalies only) also the
Spearman rank correlation, over its finished trials, between the objective
it tuned on and the real report-split objective. ``--patchcore`` times one
anomalib PatchCore fit on the first category on the same machine (the
``[bench]`` extra), the peer a user would otherwise run. With ``--storage DIR --resume``
an interrupted run continues: its sweeps resume, its trained runs are kept.
``--defaults-from CSV`` takes the default config's runs from an earlier
``--output`` (the label-free table then compares the label-free export, trained
as it would ship, with the default trained on all good images).

**Anytime curve** (``--budgets 0.5 1 3``): first one anomalib PatchCore fit
per category is timed in this run (anomalib's default settings, 10 %
coreset, as a user would run it); then for each multiple ``b`` one sweep runs
on ``--time-budget`` = b x the summed PatchCore fits (``--portfolio FILE``
optional), and its exported configs are compared with the default as above.
The table gives per budget the sweep's wall time against its budget, the mean
gain ± the seed spread of the mean, and the categories whose exported config
falls below the default by more than their seed spread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from rich.console import Console
from scipy.stats import spearmanr

from cli.sweep_summary import feature_pass_line
from gain_tables import anytime_table, gain_table, sweep_table  # benchmarks/ is on sys.path
from patchcore_unit import patchcore_fits, patchcore_seconds
from results.portfolio import read_portfolio
from results.export import build_export
from results.ranking import trial_summary
from results.store import ResultStore
from search.cluster import connect, disconnect, quiet_ray
from search.sweep_record import read_budget, read_sweep_record
from search.options import UNLIMITED_SAMPLES, SweepOptions
from search.sweep import category_base, plan_categories, run_sweep
from spaces.space import load_space
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import flatten_nested
from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.settings.flat_config import config_from_flat, config_to_flat
from ssflow.training.train import fit


class Run(NamedTuple):
    objective: str  # the sweep's --objective
    category: str
    seed: int
    method: str  # default | exported
    image_auroc: float
    pixel_auroc: float
    aupro: float
    train_seconds: float


class SweepCost(NamedTuple):
    objective: str
    trials: int
    epochs: int
    compute_seconds: float  # training and evaluation, summed over trials
    wall_seconds: float
    spearman: float | None  # label-free sweeps: tuned objective against the report objective


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="demo-hard")
    parser.add_argument("--categories", nargs="+", default=None)
    parser.add_argument("--space", default="default")
    parser.add_argument("--num-samples", type=int, default=10)
    parser.add_argument("--finalists", type=int, default=3)
    parser.add_argument("--finalist-seeds", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=SSFlowConfig().train.epochs)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--objectives", nargs="+", choices=["quality", "synthetic"], default=["quality", "synthetic"])
    parser.add_argument("--concurrency", type=int, default=2, help="trials at once (1 CPU each)")
    parser.add_argument("--patchcore", action="store_true",
                        help="time one anomalib PatchCore fit (anomalib's default 10 %% coreset) on the first category")
    parser.add_argument("--storage", type=Path, default=None, help="keep the sweeps here (default: a temp folder)")
    parser.add_argument("--output", type=Path, default=None, help="CSV of every trained run")
    parser.add_argument("--defaults-from", type=Path, default=None, metavar="CSV",
                        help="reuse the default config's runs of an earlier --output (e.g. the quality objective's: "
                             "the default trained on all good images) instead of training them again")
    parser.add_argument("--resume", action="store_true",
                        help="continue the sweeps already in --storage and skip the runs already in --output")
    parser.add_argument("--budgets", nargs="+", type=float, default=None, metavar="B",
                        help="anytime curve: one time-budgeted sweep per B x (one PatchCore fit per category), "
                             "instead of the --objectives sweeps")
    parser.add_argument("--portfolio", type=Path, default=None, help="the budgeted sweeps' --portfolio")
    return parser.parse_args()


def sweep_options(args: argparse.Namespace, objective: str, storage: Path, budget_s: float = 0.0) -> SweepOptions:
    """The options of the sweep of ``objective`` (on ``budget_s`` seconds when > 0, then named after the
    budget)."""
    base = config_from_flat({"data.dataset": args.dataset})
    options = SweepOptions(
        base=base, space=load_space(args.space),
        name=f"gain-{objective}", storage=str(storage), num_samples=args.num_samples, max_epochs=args.max_epochs,
        concurrency=args.concurrency, device="cpu", feature_cache=str(storage / "feature_cache"),
        finalists=args.finalists, finalist_seeds=args.finalist_seeds, objective="quality" if budget_s else objective)
    if budget_s:
        portfolio = tuple(read_portfolio(args.portfolio, base)) if args.portfolio else ()
        options = dataclasses.replace(options, time_budget_s=budget_s, num_samples=UNLIMITED_SAMPLES,
                                      portfolio=portfolio, portfolio_source=args.portfolio.name if portfolio else "")
    return options


def sweep(args: argparse.Namespace, objective: str, storage: Path, categories: list[str],
          budget_s: float = 0.0) -> SweepOptions:
    """Run (or, with ``--resume``, continue) the sweep of ``objective`` (:func:`sweep_options`); its options."""
    options = sweep_options(args, objective, storage, budget_s)
    if args.resume and read_sweep_record(options) is not None:
        options = dataclasses.replace(options, resume=True)
    plans = plan_categories(options, categories)
    connect(None, num_cpus=args.concurrency)
    try:
        run_sweep(options, plans)
    finally:
        disconnect()
    passes = feature_pass_line(options)
    if passes:
        Console().print(f"{options.name}: {passes}")
    return options


def sweep_cost(options: SweepOptions) -> SweepCost:
    """What the sweep cost, from its store: wall = first trial start to last result (Ray's start not counted)."""
    rows = ResultStore(options.storage).read(experiment=options.name)
    summary = trial_summary(rows)
    running = rows[rows["status"] == "running"]
    wall = (rows["written_at"].max() - rows["started_at"].min()).total_seconds()
    spearman = None
    if options.objective == "synthetic":
        done = summary[summary["status"] == "finished"]
        real = 0.5 * (done["report_image_auroc"] + done["report_aupro"])
        spearman = float(spearmanr(done["selection_objective"], real).statistic)
    return SweepCost(options.objective, len(summary), len(running), float(summary["seconds"].sum()), wall, spearman)


def train_runs(options: SweepOptions, category: str, seeds: list[int], defaults: list[Run]) -> list[Run]:
    """The exported config and the sweep's base config of ``category``, trained with every seed;
    ``defaults``: runs of the default config trained earlier, used instead of training it."""
    rows = ResultStore(options.storage).read(experiment=options.name)
    exported = build_export(rows, options.name, "benchmark", pd.Timestamp.now(tz="UTC").to_pydatetime())
    chosen = config_from_flat(flatten_nested(exported.categories[category]["config"], "export"))
    base, _ = category_base(options, category)
    configs = {"default": config_from_flat({"train.epochs": options.max_epochs}, base), "exported": chosen}
    by_seed = {run.seed: run for run in defaults
               if run.category == category and run.method == "default" and run.seed in seeds}
    reused = [run._replace(objective=options.objective) for run in by_seed.values()]
    if reused:
        del configs["default"]
    data = None
    runs = list(reused)
    trained = trained_by_sweep(rows)
    for method, config in configs.items():
        for seed in seeds:
            seeded = config_from_flat({"seed": seed}, config)
            known = trained.get(_key(seeded))
            if known is not None:  # the sweep ran this config and seed to the full budget: same numbers again
                runs.append(Run(options.objective, category, seed, method, *known))
                continue
            data = data or prepare_data(base)  # both share the sweep's data settings, so one copy serves both
            started = time.perf_counter()
            result = fit(seeded, data, "cpu")
            report = result.report
            metrics = ((report.image_auroc, report.pixel_auroc, report.aupro) if report is not None
                       else (float("nan"),) * 3)
            runs.append(Run(options.objective, category, seed, method, *metrics, time.perf_counter() - started))
    return runs


def _key(config: SSFlowConfig) -> str:
    return json.dumps(config_to_flat(config), sort_keys=True, default=str)


def trained_by_sweep(rows: pd.DataFrame) -> dict[str, tuple[float, float, float, float]]:
    """Report metrics and seconds of every config and seed the sweep trained to its full budget.

    Training is deterministic for a config and seed (``tests/test_train.py``),
    so these are the numbers a new run would give.
    """
    done = rows[rows["status"] == "finished"].drop_duplicates("trial_id", keep="last")
    known = {}
    for _, row in done.iterrows():
        config = config_from_flat(flatten_nested(json.loads(row["config_json"]), "store"))
        known[_key(config)] = (row["report_image_auroc"], row["report_pixel_auroc"], row["report_aupro"],
                               row["seconds"])
    return known


def earlier_runs(path: Path | None) -> list[Run]:
    if path is None or not path.is_file():
        return []
    return [Run(*row) for row in pd.read_csv(path)[list(Run._fields)].itertuples(index=False)]


def anytime(args: argparse.Namespace, storage: Path, categories: list[str], console: Console) -> None:
    """The ``--budgets`` run: PatchCore timed per category, then one budgeted sweep per multiple."""
    fits = patchcore_fits(args.dataset, categories, storage, args.resume)
    unit = sum(fits.values())
    console.print(f"PatchCore fits (10 % coreset): {', '.join(f'{c} {s:.0f} s' for c, s in fits.items())}; "
                  f"1x budget = {unit:.0f} s")
    runs = earlier_runs(args.output) if args.resume else []
    spent = {}
    for multiple in args.budgets:
        label = f"budget-{multiple:g}x"
        record = read_budget(str(storage), f"gain-{label}") if args.resume else None
        if record is None:  # a resumed run does not run a budget's finished sweep again (it would get a new budget)
            options = sweep(args, label, storage, categories, budget_s=multiple * unit)
            record = read_budget(options.storage, options.name) or {}
        else:
            options = sweep_options(args, label, storage, multiple * unit)
        spent[label] = (multiple * unit, float(record.get("sweep_s", float("nan"))))
        for category in categories:
            if any(run.objective == label and run.category == category for run in runs):
                continue
            # The default config is the same at every budget: its runs of an earlier budget serve again.
            defaults = earlier_runs(args.defaults_from) + [run for run in runs if run.method == "default"]
            trained = train_runs(options, category, args.seeds, defaults)
            runs.extend(run._replace(objective=label) for run in trained)
            if args.output is not None:
                pd.DataFrame(runs).to_csv(args.output, index=False)
    console.print(anytime_table(pd.DataFrame(runs), spent, fits))


def main() -> None:
    args = parse_args()
    console = Console()
    quiet_ray()
    root = prepare_root(args.dataset, default_root(args.dataset))
    categories = args.categories or list_categories(args.dataset, root)
    storage = args.storage or Path(tempfile.mkdtemp(prefix="search-gain-"))
    if args.budgets:
        anytime(args, storage, categories, console)
        return
    runs = earlier_runs(args.output) if args.resume else []
    costs: list[SweepCost] = []
    for objective in args.objectives:
        options = sweep(args, objective, storage, categories)
        costs.append(sweep_cost(options))
        for category in categories:
            if any(run.objective == objective and run.category == category for run in runs):
                continue  # trained by an earlier invocation
            runs.extend(train_runs(options, category, args.seeds, earlier_runs(args.defaults_from)))
            if args.output is not None:
                pd.DataFrame(runs).to_csv(args.output, index=False)
    frame = pd.DataFrame(runs)
    patchcore = {categories[0]: patchcore_seconds(args.dataset, categories[0])} if args.patchcore else {}
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads"
    for cost in costs:
        console.print(gain_table(frame[frame["objective"] == cost.objective], cost, args, machine))
    console.print(sweep_table(costs, patchcore, len(categories)))


if __name__ == "__main__":
    main()
