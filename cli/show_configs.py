"""What ``show`` prints beside the leaderboards: configs judged over seeds, and quality against latency."""

from __future__ import annotations

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from cli.table_format import mean_std, metric, threshold_cell
from results.objective_source import synthetic_weight, threshold_rule
from results.pareto import pareto_front
from results.ranking import best_configs, config_summary

SEED_COLUMNS = (("selection\nobjective", "selection_objective"), ("image\nAUROC", "report_image_auroc"),
                ("AUPRO", "report_aupro"))


def finalists_table(rows: pd.DataFrame, title: str) -> Table | None:
    """The configs of one study that have finalist runs: mean ± std over their seeds; None without finalists."""
    configs = config_summary(rows)
    configs = configs[configs["seeds"] > 1].sort_values("selection_objective_mean", ascending=False)
    if configs.empty:
        return None
    chosen = best_configs(rows)["trial_id"].tolist()
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD,
                  caption="finalists: each config trained again with other seeds; mean ± standard deviation over "
                          "its seeds (AUROC, AUPRO: report split); export ships the best mean",
                  caption_justify="left")
    table.add_column("config", no_wrap=True)
    table.add_column("seeds", justify="right")
    for header, _ in SEED_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for row in configs.to_dict("records"):
        marker = " (export)" if row["trial_id"] in chosen else ""
        table.add_row(escape(str(row["trial_id"])) + marker, str(int(row["seeds"])),
                      *(mean_std(row[f"{column}_mean"], row[f"{column}_std"]) for _, column in SEED_COLUMNS))
    return table


def pareto_table(rows: pd.DataFrame, title: str) -> Table | None:
    """The study's quality/latency Pareto front, fastest first; None when no latency was measured."""
    front = pareto_front(rows)
    if len(front) == 0:
        return None
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD,
                  caption="no other config is both faster and better on the selection objective; "
                          "export --max-latency-ms MS picks the best within a budget", caption_justify="left")
    for column in ("config", "latency ms", "selection objective", "image AUROC", "AUPRO", "seeds"):
        table.add_column(column, justify="left" if column == "config" else "right", no_wrap=True)
    for row in front.to_dict("records"):
        table.add_row(escape(str(row["trial_id"])), f"{row['latency_ms']:.1f}",
                      mean_std(row["selection_objective_mean"], row["selection_objective_std"]),
                      metric(row["report_image_auroc_mean"]), metric(row["report_aupro_mean"]), str(int(row["seeds"])))
    return table


def shipped_line(rows: pd.DataFrame) -> str | None:
    """What ``export`` would ship for one study: the config, its seeds, and its threshold with report P/R."""
    best = best_configs(rows)
    if best.empty:
        return None
    row = best.iloc[0]
    seeds = int(row["seeds"])
    over = f" over {seeds} seeds" if seeds > 1 else ""
    threshold = {"value": row.get("threshold"), "report_precision": row.get("report_precision"),
                 "report_recall": row.get("report_recall")}
    threshold = threshold if threshold["value"] is not None and not pd.isna(threshold["value"]) else None
    return (f"export ships [bold]{escape(str(row['trial_id']))}[/] (selection objective "
            f"{mean_std(row['selection_objective_mean'], row['selection_objective_std'])}{over}); threshold "
            f"({escape(threshold_rule(synthetic_weight(rows)))}, report precision / recall): "
            f"{threshold_cell(threshold)}{_base_kept_note(rows, row)}")


def _base_kept_note(rows: pd.DataFrame, chosen: pd.Series) -> str:
    """Why the base config ships although a searched config scored higher (results.base_guard); '' otherwise."""
    if not bool(chosen.get("base_kept", False)):
        return ""
    ahead = best_configs(rows, guard_base=False).iloc[0]
    return (f"; the base config stays: {escape(str(ahead['trial_id']))} was ahead by "
            f"{chosen['gain_over_base']:+.3f}, short of the {chosen['gain_threshold']:.3f} it needed "
            f"({chosen['gain_threshold'] / chosen['gain_noise']:.2f} x the comparison's noise "
            f"{chosen['gain_noise']:.3f}: selection-split bootstrap and seeds)")
