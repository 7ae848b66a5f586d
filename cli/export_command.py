"""``run_search.py export``: the best config per category of a sweep, as one YAML file; or, with
``--portfolio FILE``, a portfolio of configs learned from the store for future sweeps."""

from __future__ import annotations

import argparse
import datetime
import math
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ssflow_runtime.output_paths import check_output_file
from cli.show_command import read_rows
from cli.table_format import mean_std, metric, threshold_cell
from results.export import ExportContent, build_export
from results.portfolio import build_portfolio, write_portfolio
from results.ranking import seed_noise
from ssflow import __version__
from ssflow.errors import UserInputError
from ssflow.settings.exported import write_export


def run(args: argparse.Namespace, console: Console) -> int:
    if args.out is None and args.portfolio is None:
        raise UserInputError("export needs --out FILE (the best config per category) or --portfolio FILE")
    if args.portfolio is not None:
        export_portfolio(args, console)
    if args.out is None:
        return 0
    if args.name is None:
        raise UserInputError("--out needs --name: the sweep whose best configs to export (see 'ssflow-search show')")
    out = Path(args.out)
    check_output_file(out, ".yml" if out.suffix.lower() == ".yml" else ".yaml")
    if args.max_latency_ms is not None and not 0 < args.max_latency_ms < math.inf:  # NaN fails too
        raise UserInputError(f"--max-latency-ms {args.max_latency_ms:g}: expected a finite number of milliseconds > 0")
    rows = read_rows(args.storage, args.name, args.dataset, console)
    content = build_export(rows, args.name, __version__, datetime.datetime.now(datetime.timezone.utc),
                           args.max_latency_ms)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_export(out, content.header, content.categories)
    console.print(summary_table(content, out))
    for note in content.notes:
        console.print(f"[yellow]{escape(note)}[/]")
    first = next(iter(content.categories))
    count = len(content.categories)
    console.print(f"wrote {escape(str(out))} ({count} categor{'y' if count == 1 else 'ies'}); train one with "
                  f"[bold]ssflow-search train --config {escape(str(out))} --category {escape(first)} "
                  f"--out models/{escape(first)}[/]")
    return 0


def summary_table(content: ExportContent, out: Path) -> Table:
    table = Table(title=f"{escape(content.header['experiment'])}: best config per category -> {escape(str(out))}",
                  title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  caption=f"chosen on {_shared(content, 'chosen_on')} (the mean over seeds where there are "
                          "finalist runs, ± standard deviation over seeds); AUROC and AUPRO: report split, mean over "
                          f"seeds; threshold: {_shared(content, 'threshold')}, with its report-split precision / "
                          "recall",
                  caption_justify="left")
    for column in ("dataset", "category", "trial", "seeds", "selection\nobjective", "image\nAUROC", "pixel\nAUROC",
                   "AUPRO", "threshold\n(P / R)", "latency\nms"):
        table.add_column(column, justify="left" if column in ("dataset", "category", "trial") else "right")
    for category, entry in content.categories.items():
        report = entry.get("report_mean") or entry["report"]
        latency = entry.get("latency_ms")
        table.add_row(escape(entry["dataset"]), escape(category), escape(entry["trial_id"]),
                      str(entry.get("seeds", 1)),
                      mean_std(entry.get("selection_objective_mean", entry["selection_objective"]),
                               entry.get("selection_objective_std")),
                      metric(report["image_auroc"]), metric(report["pixel_auroc"]), metric(report["aupro"]),
                      threshold_cell(entry.get("threshold")), "-" if latency is None else f"{latency:.1f}")
    return table


def _shared(content: ExportContent, key: str) -> str:
    """The categories' common value of ``chosen_on`` or the threshold rule, or a pointer to the file."""
    values = {entry[key]["rule"] if key == "threshold" else entry[key] for entry in content.categories.values()
              if entry.get(key)}
    return escape(values.pop()) if len(values) == 1 else "per category: see the file"


def export_portfolio(args: argparse.Namespace, console: Console) -> None:
    """Learn a portfolio from the store (``results.portfolio.build_portfolio``) and write ``--portfolio``."""
    out = Path(args.portfolio)
    check_output_file(out, ".yml" if out.suffix.lower() == ".yml" else ".yaml", "--portfolio", "portfolio")
    if args.portfolio_size < 1:
        raise UserInputError(f"--portfolio-size {args.portfolio_size}: expected an integer >= 1")
    rows = read_rows(args.storage, args.name, args.dataset, console)
    tolerance = seed_noise(rows)
    configs = build_portfolio(rows, args.portfolio_size, tolerance)
    experiments = sorted(set(rows["experiment"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_portfolio(out, configs, experiments, tolerance)
    studies = len(rows[["experiment", "dataset", "category"]].drop_duplicates())
    covered = sum(len(config["covers"]) for config in configs)
    console.print(f"wrote {escape(str(out))}: {len(configs)} config{'s' if len(configs) != 1 else ''} covering "
                  f"{covered} of {studies} studies within {tolerance:.4f} of their best (the store's seed noise); "
                  f"start a sweep from it with [bold]ssflow-search --portfolio {escape(str(out))} ...[/]")
