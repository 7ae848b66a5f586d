"""``run_search.py show``: leaderboards of a sweep per category, and optional plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from cli.budget_view import budget_line
from cli.show_configs import finalists_table, pareto_table, shipped_line
from cli.shown_text import shown
from cli.table_format import metric
from results.objective_source import chosen_on, synthetic_weight
from results.plots import format_value, infer_rungs, short_names, varying_hyperparameters, write_plots
from results.ranking import rank_trials
from results.schema import ENDED_WITHOUT_MODEL
from results.store import ResultStore
from search.sweep_record import read_budget
from ssflow.errors import UserInputError
from ssflow.redaction import redacted

STATUS_STYLES = {"finished": "green", "running": "yellow", "pruned": "dim", "diverged": "magenta", "failed": "red"}
OVERVIEW_STATUSES = ("finished", "pruned", "diverged", "failed")
FAILURES_LISTED = 3


def read_rows(storage: str, name: str | None, dataset: str | None, console: Console | None = None) -> pd.DataFrame:
    """The store's rows of ``name`` (all experiments when None) and ``dataset``; a one-line error when empty.

    Files that do not fit the schema are skipped with a one-line note on ``console``.
    """
    store = ResultStore(storage)
    experiments = store.experiments()
    where = redacted(storage)
    if not experiments:
        raise UserInputError(f"results store {where}: no results (nothing under {where}/results); "
                             "run a search first or point --storage at the folder the search wrote")
    if name is not None and name not in experiments:
        raise UserInputError(f"--name {name}: no such experiment in {where}; it holds {', '.join(experiments)}")
    rows, notes = store.read_checked(experiment=name)
    for note in notes:
        if console is not None:
            console.print(f"[yellow]note[/]: {shown(note)}", soft_wrap=True)
    if dataset is not None and dataset not in set(rows["dataset"]):
        held = ", ".join(sorted(set(rows["dataset"])))
        raise UserInputError(f"--dataset {dataset}: no results for it in {name or where}; found {held}")
    return rows if dataset is None else rows[rows["dataset"] == dataset]


def run(args: argparse.Namespace, console: Console) -> int:
    if args.top < 1:
        raise UserInputError(f"--top {args.top}: expected an integer >= 1")
    rows = read_rows(args.storage, args.name, args.dataset, console)
    # Ranks are per experiment: each sweep's leaderboard stands on its own.
    ranked = pd.concat([rank_trials(part) for _, part in rows.groupby("experiment", sort=True)], ignore_index=True)
    experiments = sorted(set(ranked["experiment"]))
    if len(experiments) > 1:
        console.print(experiment_overview(ranked))
    for (experiment, dataset, category), trials in ranked.groupby(["experiment", "dataset", "category"], sort=True):
        console.print()
        for table in leaderboard(trials, f"{experiment}  {dataset}/{category}", args.top, console.width):
            console.print(table)
        for line in category_notes(trials, args.top):
            console.print(line)
        study = rows[(rows["experiment"] == experiment) & (rows["dataset"] == dataset)
                     & (rows["category"] == category)]
        weight = synthetic_weight(study)
        if weight > 0:
            console.print(f"selection objective: on {escape(chosen_on(weight))}; the report split's labels were "
                          "used for no choice, only for the AUROC and AUPRO columns")
        shipped = shipped_line(study)
        if shipped:
            console.print(shipped)
        for table in (finalists_table(study, f"{experiment}  {dataset}/{category}: configs over seeds"),
                      pareto_table(study, f"{experiment}  {dataset}/{category}: quality against latency")):
            if table is not None:
                console.print(table)
    for experiment in experiments:
        record = read_budget(args.storage, experiment) if "://" in args.storage or Path(args.storage).is_dir() \
            else None
        if record is not None:
            console.print(f"\n{escape(experiment)}: {budget_line(record)}", soft_wrap=True)
    if args.plot:
        paths = write_plots(rows, Path(args.plot))
        console.print(f"\nwrote {len(paths)} plots to {args.plot}")
    return 0


def experiment_overview(ranked: pd.DataFrame) -> Table:
    """One row per experiment: datasets, categories, trials and their states."""
    table = Table(title="experiments", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    for column in ("experiment", "datasets", "categories", "trials", *OVERVIEW_STATUSES, "compute"):
        table.add_column(column, justify="left" if column in ("experiment", "datasets") else "right",
                         no_wrap=column == "experiment")
    for experiment, trials in ranked.groupby("experiment", sort=True):
        counts = trials["status"].value_counts()
        table.add_row(escape(experiment), escape(", ".join(sorted(set(trials["dataset"])))),
                      str(trials[["dataset", "category"]].drop_duplicates().shape[0]), str(len(trials)),
                      *(str(int(counts.get(status, 0))) for status in OVERVIEW_STATUSES),
                      duration(trials["seconds"].sum()))
    return table


def leaderboard(trials: pd.DataFrame, title: str, top: int, width: int) -> list[Table]:
    """The first ``top`` ranked trials of one category with the hyperparameters that vary between them.

    One table when the hyperparameter columns fit in ``width`` characters;
    else the metrics, then the hyperparameters in as many tables as it takes
    to keep every value on one line, so narrow terminals stay readable.
    """
    hyperparameters = varying_hyperparameters(trials)
    names = short_names(hyperparameters)
    top_rows = trials.head(top).to_dict("records")
    id_width = max((len(str(row["trial_id"])) for row in top_rows), default=5)
    wide = _leaderboard_table(title, id_width)
    _add_hyperparameters(wide, top_rows, hyperparameters, names, leading=_leaderboard_cells)
    if not hyperparameters or _natural_width(wide) <= width:
        return [wide]
    metrics = _leaderboard_table(title, id_width)
    for row in top_rows:
        metrics.add_row(*_leaderboard_cells(row))
    return [metrics, *_hyperparameter_tables(top_rows, hyperparameters, names, id_width, width)]


def _hyperparameter_tables(rows: list[dict], columns: list[str], names: dict[str, str], id_width: int,
                           width: int) -> list[Table]:
    """The hyperparameter columns in tables that each fit ``width``, every table led by rank and trial."""
    def start() -> Table:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("trial", no_wrap=True, min_width=id_width)
        return table

    def filled(chosen: list[str]) -> Table:
        table = start()
        _add_hyperparameters(table, rows, chosen, names,
                             leading=lambda row: [str(row["rank"]), escape(str(row["trial_id"]))])
        return table

    groups: list[list[str]] = [[]]
    for column in columns:
        if groups[-1] and _natural_width(filled([*groups[-1], column])) > width:
            groups.append([])
        groups[-1].append(column)
    return [filled(group) for group in groups]


def _add_hyperparameters(table: Table, rows: list[dict], columns: list[str], names: dict[str, str],
                         leading: Callable[[dict], list[str]]) -> None:
    for column in columns:
        table.add_column(escape(names[column]), justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*leading(row), *(escape(format_value(row[c])) for c in columns))


def _natural_width(table: Table) -> int:
    """The width ``table`` takes when nothing is squeezed."""
    roomy = Console(width=100_000)
    return Measurement.get(roomy, roomy.options, table).maximum


def _leaderboard_table(title: str, id_width: int) -> Table:
    table = Table(title=escape(title), title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  caption="finished trials first (full budget), then running, pruned, failed; within each by the selection "
                          "objective at the last epoch; AUROC and AUPRO: report split",
                  caption_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("trial", no_wrap=True, min_width=id_width)
    table.add_column("status", no_wrap=True)
    table.add_column("epoch", justify="right", no_wrap=True)
    for header in ("selection\nobjective", "image\nAUROC", "pixel\nAUROC", "AUPRO", "AUPRO\nFPR 0.05"):
        table.add_column(header, justify="right", no_wrap=True)
    return table


def _leaderboard_cells(row: dict) -> list[str]:
    status = row["status"]
    return [str(row["rank"]), escape(str(row["trial_id"])), f"[{STATUS_STYLES.get(status, '')}]{status}[/]",
            str(row["last_epoch"]), metric(row["selection_objective"]), metric(row["report_image_auroc"]),
            metric(row["report_pixel_auroc"]), metric(row["report_aupro"]), metric(row.get("report_aupro_05"))]


def category_notes(trials: pd.DataFrame, top: int) -> list[str]:
    """The lines under a leaderboard: what ASHA pruned at each rung, outcomes, compute, failures."""
    counts = trials["status"].value_counts()
    parts = [f"{len(trials)} trial{'s' if len(trials) != 1 else ''}", f"{int(counts.get('finished', 0))} finished"]
    pruned = trials[trials["status"] == "pruned"]
    if len(pruned):
        per_rung = pruned["last_epoch"].value_counts()
        rungs = ", ".join(f"{int(per_rung[epoch])} at epoch {epoch}" for epoch in infer_rungs(trials))
        parts.append(f"{len(pruned)} pruned ({rungs})")
    if counts.get("running", 0):
        parts.append(f"{int(counts['running'])} running")
    if counts.get("diverged", 0):
        parts.append(f"{int(counts['diverged'])} diverged")
    parts.append(f"{int(counts.get('failed', 0))} failed")
    lines = [f"{', '.join(parts)}; compute {duration(trials['seconds'].sum())}"]
    if len(trials) > top:
        lines.append(f"[dim]{len(trials) - top} more not listed (--top {len(trials)} lists all)[/]")
    failed = trials[trials["status"].isin(ENDED_WITHOUT_MODEL)]
    for trial in failed.head(FAILURES_LISTED).itertuples(index=False):
        reason = trial.error if isinstance(trial.error, str) and trial.error else "no reason recorded"
        lines.append(f"[{STATUS_STYLES[trial.status]}]{trial.status}[/] {escape(str(trial.trial_id))} at epoch "
                     f"{trial.last_epoch}: {escape(reason)}")
    return lines


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3 h 05 min``."""
    if pd.isna(seconds):
        return "-"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"

