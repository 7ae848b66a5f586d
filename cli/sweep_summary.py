"""The table a sweep prints when it ends: per category, its trials and the config it would ship."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from cli.table_format import mean_std
from results.ranking import best_configs, trial_summary
from results.store import ResultStore
from search.options import SweepOptions
from search.sweep import CategoryOutcome


SUMMARY_STATUSES = ("finished", "pruned", "diverged", "failed")


def summary_table(options: SweepOptions, outcomes: Sequence[CategoryOutcome]) -> Table:
    frame = ResultStore(options.storage).read(experiment=options.name)
    table = Table(title=f"{escape(options.name)}: summary", title_justify="left", box=box.SIMPLE_HEAD,
                  caption="best trial: by the selection objective (the mean over finalist seeds where there are "
                          "finalists, ± standard deviation over seeds); (base kept): a searched config scored higher "
                          "but within the noise, so the base config stays; image AUROC and AUPRO: report split, "
                          "mean over seeds",
                  caption_justify="left")
    table.add_column("category", no_wrap=True, max_width=14, overflow="ellipsis")
    for column in ("fin", "pru", "div", "fail"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("best trial", no_wrap=True, max_width=14, overflow="ellipsis")
    for column in ("objective", "AUROC", "AUPRO"):
        table.add_column(column, justify="right", no_wrap=True)
    summary = trial_summary(frame) if not frame.empty else frame
    best = best_configs(frame).set_index("category") if not frame.empty else pd.DataFrame()
    for outcome in outcomes:
        rows = summary[summary["category"] == outcome.category] if not summary.empty else summary
        counts = rows["status"].value_counts() if not rows.empty else pd.Series(dtype=int)
        cells = [escape(outcome.category), *(str(int(counts.get(s, 0))) for s in SUMMARY_STATUSES)]
        if outcome.category not in best.index:
            table.add_row(*cells, "-", "-", "-", "-")
            continue
        top = best.loc[outcome.category]
        kept = " (base kept)" if bool(top.get("base_kept", False)) else ""
        table.add_row(*cells, escape(str(top["trial_id"])) + kept,
                      mean_std(top["selection_objective_mean"], top["selection_objective_std"]),
                      mean_std(top["report_image_auroc_mean"], None), mean_std(top["report_aupro_mean"], None))
    return table


# What a trial's clean features depend on besides the images: one feature pass per combination and node.
FEATURE_KEYS = ("hp.backbone.name", "hp.backbone.weights", "hp.backbone.levels", "hp.backbone.image_size",
                "hp.data.tile_size", "hp.data.tile_overlap", "hp.data.scale", "hp.data.keep_aspect")


def feature_pass_line(options: SweepOptions) -> str | None:
    """``feature passes: P for C (backbone, levels, input) combinations over T trials``; None without a record.

    P counts the trials that ran the backbone over their category's clean images
    (the others read the node's feature cache); C the distinct combinations of
    :data:`FEATURE_KEYS` per category. Rows of older versions carry no record.
    """
    frame = ResultStore(options.storage).read(experiment=options.name)
    if frame.empty or "features_computed" not in frame or frame["features_computed"].isna().all():
        return None
    first = frame.dropna(subset=["features_computed"]).drop_duplicates("trial_id")
    keys = [key for key in FEATURE_KEYS if key in first]
    combos = first[["category", *keys]].astype(str).drop_duplicates()
    passes = int(first["features_computed"].astype(bool).sum())
    return (f"feature passes: {passes} for {len(combos)} (backbone, levels, input) combination"
            f"{'s' if len(combos) != 1 else ''} over {len(first)} trials")



def outlier_lines(options: SweepOptions, listed: int = 3) -> list[str]:
    """Per category whose best trial flagged training images (``train_outliers``): one line naming them."""
    frame = ResultStore(options.storage).read(experiment=options.name)
    if frame.empty or "train_outliers" not in frame or frame["train_outliers"].isna().all():
        return []
    lines = []
    for _, top in best_configs(frame).iterrows():
        flagged = frame[(frame["trial_id"] == top["trial_id"]) & frame["train_outliers"].notna()]
        paths = json.loads(flagged["train_outliers"].iloc[-1]) if not flagged.empty else []
        if paths:
            names = ", ".join(Path(path).name for path in paths[:listed]) + (", ..." if len(paths) > listed else "")
            lines.append(f"{top['category']}: its best model scores {len(paths)} training image"
                         f"{'s' if len(paths) != 1 else ''} far above the rest, likely defects among the good "
                         f"images ({names}); train --drop-outliers trains without them")
    return lines
