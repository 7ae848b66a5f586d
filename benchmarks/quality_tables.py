"""The tables of ``quality.py``: per method over categories and seeds, per category and method."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from rich.table import Table

METRICS = ("image_auroc", "pixel_auroc", "aupro")


def mean_std(values: Sequence[float]) -> str:
    values = np.asarray(values, dtype=float)
    if np.isnan(values).all():
        return "-"
    return f"{np.nanmean(values):.3f} ± {np.nanstd(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def summary_table(frame: pd.DataFrame, title: str) -> Table:
    """Per method: each metric's mean over categories, then mean ± std over seeds; times averaged."""
    table = Table(title=title, title_justify="left")
    for column in ("method", "image AUROC", "pixel AUROC", "AUPRO", "train s / category", "inference img/s",
                   "runs"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, runs in frame.groupby("method", sort=False):
        per_seed = runs.groupby("seed")[list(METRICS)].mean()
        finished = int((runs["status"] == "finished").sum())
        table.add_row(method, *(mean_std(per_seed[metric]) for metric in METRICS),
                      f"{runs['train_seconds'].mean():.1f}", f"{runs['images_per_second'].mean():.1f}",
                      f"{finished}/{len(runs)}")
    return table


def category_table(frame: pd.DataFrame, title: str) -> Table:
    """Per category and method: each metric's mean ± std over seeds."""
    table = Table(title=title, title_justify="left")
    for column in ("category", "method", "image AUROC", "pixel AUROC", "AUPRO"):
        table.add_column(column, justify="left" if column in ("category", "method") else "right")
    for (category, method), runs in frame.groupby(["category", "method"], sort=False):
        table.add_row(category, method, *(mean_std(runs[metric]) for metric in METRICS))
    return table


def scored_images_note(frame: pd.DataFrame) -> str:
    """Which test images every method was scored on, with their counts."""
    counts = frame.groupby("category")[["report_normal", "report_defective"]].first()
    per_category = ", ".join(f"{name} {row.report_normal}+{row.report_defective}" for name, row in counts.iterrows())
    return ("scored on the report split of each category's test set for each seed "
            "(split_test(test, selection_fraction=0.5, seed), stratified by defect type), the same images for "
            f"every method; normal+defective images per category: {per_category}")
