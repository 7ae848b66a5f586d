"""The tables of ``search_gain.py``: quality of exported against default configs, and what the sweeps cost."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd
from rich.table import Table

METRICS = ("image_auroc", "pixel_auroc", "aupro", "objective")
HEADERS = ("image AUROC", "pixel AUROC", "AUPRO", "objective")


def with_objective(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs with the report-split objective (image AUROC + AUPRO) / 2 added."""
    return frame.assign(objective=0.5 * (frame["image_auroc"] + frame["aupro"]))


def _cell(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=0):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def gain_table(frame: pd.DataFrame, cost: Any, args: Any, machine: str) -> Table:
    """Per category, then the mean over categories: default and exported, mean ± std over seeds, and the gain.

    The mean row averages the categories within each seed first, so its
    spread is the seed-to-seed spread of the mean.
    """
    frame = with_objective(frame)
    title = (f"{cost.objective} sweep on {args.dataset}: report split, mean ± std over training seeds "
             f"{', '.join(map(str, args.seeds))} ({machine})")
    table = Table(title=title, title_justify="left")
    for column in ("category", "config", *HEADERS, "objective gain"):
        table.add_column(column, justify="left" if column in ("category", "config") else "right")
    groups = [(category, runs) for category, runs in frame.groupby("category", sort=True)]
    per_seed = frame.groupby(["method", "seed"])[list(METRICS)].mean().reset_index()
    for category, runs in [*groups, ("mean", per_seed)]:
        means = runs.groupby("method")["objective"].mean()
        gain = means.get("exported", float("nan")) - means.get("default", float("nan"))
        for method in ("default", "exported"):
            chosen = runs[runs["method"] == method]
            shown_gain = f"{gain:+.3f}" if method == "exported" else ""
            table.add_row(category if method == "default" else "", method,
                          *(_cell(chosen[metric]) for metric in METRICS), shown_gain)
    return table


def sweep_table(costs: Sequence[Any], patchcore: Mapping[str, float], categories: int) -> Table:
    """What each sweep cost, per category on average, beside one PatchCore fit when it was timed."""
    table = Table(title="what the sweeps cost (per category: the sweep's totals / categories)", title_justify="left")
    fitted = ", ".join(patchcore) or "not timed"
    for column in ("sweep", "trials", "epochs", "compute s", "wall s", "wall s / category",
                   f"PatchCore fit s ({fitted})", "Spearman"):
        table.add_column(column, justify="left" if column == "sweep" else "right")
    fit = sum(patchcore.values()) / len(patchcore) if patchcore else None
    for cost in costs:
        table.add_row(cost.objective, str(cost.trials), str(cost.epochs), f"{cost.compute_seconds:.0f}",
                      f"{cost.wall_seconds:.0f}", f"{cost.wall_seconds / categories:.0f}",
                      "-" if fit is None else f"{fit:.0f}", "-" if cost.spearman is None else f"{cost.spearman:.2f}")
    return table


def anytime_table(frame: pd.DataFrame, spent: Mapping[str, tuple[float, float]], fits: Mapping[str, float]) -> Table:
    """Per time budget: its size in PatchCore fits and seconds, the sweep's wall time, the mean gain of the
    exported configs over the default (± the seed spread of the mean) and the categories below the default
    by more than their seed spread."""
    table = Table(title="anytime: report-split gain of the exported configs over the default, by time budget "
                        f"(1x = one PatchCore fit per category, 10 % coreset: {sum(fits.values()):.0f} s)",
                  title_justify="left")
    for column in ("budget", "budget s", "sweep s", "sweep / budget", "mean gain", "per category",
                   "below default beyond spread"):
        table.add_column(column, justify="left" if column in ("budget", "per category") else "right")
    for label, (budget_s, sweep_s) in spent.items():
        runs = with_objective(frame[frame["objective"] == label])  # the label column becomes the metric
        per_seed = runs.groupby(["method", "seed"])["objective"].mean().unstack("method")
        gains = per_seed["exported"] - per_seed["default"]
        categories, below = [], []
        for category, part in runs.groupby("category", sort=True):
            by = part.groupby("method")["objective"]
            gain = by.mean()["exported"] - by.mean()["default"]
            categories.append(f"{category} {gain:+.3f}")
            if gain < -max(by.std(ddof=0).max(), 1e-9):
                below.append(category)
        table.add_row(label.removeprefix("budget-"), f"{budget_s:.0f}", f"{sweep_s:.0f}", f"{sweep_s / budget_s:.2f}",
                      f"{gains.mean():+.3f} ± {gains.std(ddof=0):.3f}", ", ".join(categories),
                      ", ".join(below) or "none")
    return table
