"""Rank trials and configs from the rows of the results store; pure functions of a DataFrame.

Trials are chosen on the selection split only: the report-split columns are
carried along for reading, never used to sort or pick. A config that has
finalist runs (the same config retrained with other training seeds) is judged
by the mean of its runs' selection objectives, so the luckiest seed of a noisy
category does not decide.
"""

from __future__ import annotations

import math

import pandas as pd

from results.base_guard import GuardRule, guarded, mean_replicates, winners_curse_z
from results.schema import ENDED_WITHOUT_MODEL, HP_PREFIX, REPORT_METRICS, SELECTION_METRICS

TRIAL_KEYS = ["experiment", "dataset", "category", "trial_id"]
STUDY_KEYS = ["experiment", "dataset", "category"]  # one study: a category of one experiment
REQUIRED_COLUMNS = [*TRIAL_KEYS, "status", "epoch", "selection_objective"]
# Finished trials first, pruned after, failed last; a running trial has not lost yet.
STATUS_ORDER = {"finished": 0, "running": 1, "pruned": 2, "diverged": 3, "failed": 4}
AT_LAST_EPOCH = [*SELECTION_METRICS, *REPORT_METRICS, "loss", "threshold", "report_precision", "report_recall",
                 "selection_replicates"]
DESCRIPTIVE = ["device", "node", "node_ip", "started_at", "seed", "code_version", "config_json", "role",
               "parent_trial", "latency_ms"]
# The metrics averaged over a config's runs (its own trial and its finalists).
SEED_METRICS = ["selection_objective", *REPORT_METRICS]


def trial_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, dataset, category, trial_id) from per-epoch rows.

    Columns: the trial keys; ``status`` (the final row's, else ``running``) and
    its ``error``; ``last_epoch``; the selection and report metrics and ``loss``
    at the last epoch; ``best_selection_objective`` over all epochs; ``seconds``
    (the largest reported); descriptive columns and every ``hp.*`` column.
    """
    _require_columns(df)
    if "written_at" in df.columns:
        df = df.sort_values("written_at", kind="stable")
    groups = df.groupby(TRIAL_KEYS, sort=True, dropna=False)
    summary = pd.DataFrame(index=groups.size().index)

    finals = df[df["status"] != "running"].groupby(TRIAL_KEYS, dropna=False)
    summary["status"] = finals["status"].last().reindex(summary.index).fillna("running")
    summary["error"] = _last(finals, "error", df).reindex(summary.index)

    summary["last_epoch"] = groups["epoch"].max()
    last_epoch = groups["epoch"].transform("max")
    at_last = df[(df["epoch"] == last_epoch).fillna(False).astype(bool)]
    at_last_groups = at_last.groupby(TRIAL_KEYS, dropna=False)
    for column in [c for c in AT_LAST_EPOCH if c in df.columns]:
        # last() skips nulls: a failed final row without metrics keeps the epoch row's values.
        summary[column] = at_last_groups[column].last().reindex(summary.index)
    summary["best_selection_objective"] = groups["selection_objective"].max()
    if "seconds" in df.columns:
        summary["seconds"] = groups["seconds"].max()

    carried = [c for c in DESCRIPTIVE if c in df.columns] + [c for c in df.columns if c.startswith(HP_PREFIX)]
    for column in carried:
        summary[column] = groups[column].last()
    return summary.reset_index()


def rank_trials(df: pd.DataFrame) -> pd.DataFrame:
    """Trial summaries ranked within each study (experiment, dataset, category); ``rank`` starts at 1.

    Order: status (finished, running, pruned, failed), then the selection
    objective at the trial's last epoch (higher first, missing last), then the
    best selection objective, then experiment and trial id for a stable result.
    """
    summary = trial_summary(df)
    summary["_status_order"] = summary["status"].map(STATUS_ORDER).fillna(len(STATUS_ORDER))
    ranked = summary.sort_values(
        [*STUDY_KEYS, "_status_order", "selection_objective", "best_selection_objective", "experiment", "trial_id"],
        ascending=[True, True, True, True, False, False, True, True],
        na_position="last",
        kind="stable",
    ).drop(columns="_status_order")
    ranked.insert(len(TRIAL_KEYS), "rank", ranked.groupby(STUDY_KEYS, dropna=False).cumcount() + 1)
    return ranked.reset_index(drop=True)


def best_trials(df: pd.DataFrame) -> pd.DataFrame:
    """The best usable trial per study (experiment, dataset, category): the first by rank that did not
    fail and has a selection objective. A category whose trials all failed has no row.
    """
    ranked = rank_trials(df)
    usable = ranked[~ranked["status"].isin(ENDED_WITHOUT_MODEL) & ranked["selection_objective"].notna()]
    return usable.groupby(STUDY_KEYS, dropna=False).head(1).reset_index(drop=True)


def _last(groups: pd.core.groupby.DataFrameGroupBy, column: str, df: pd.DataFrame) -> pd.Series:
    if column not in df.columns:
        return pd.Series(index=groups.size().index, dtype=object)
    return groups[column].last()


def _require_columns(df: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"results frame lacks column(s) {', '.join(missing)}; read it with ResultStore.read()")


def config_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Finished runs per config: one row per finished trial, ``config_trial`` naming the config it ran.

    A finalist run belongs to the config of its ``parent_trial``; any other
    trial is its own config.
    """
    summary = trial_summary(df)
    finished = summary[summary["status"] == "finished"].copy()
    parent = finished["parent_trial"] if "parent_trial" in finished.columns else pd.Series(index=finished.index)
    finished["config_trial"] = parent.where(parent.notna() & (parent != ""), finished["trial_id"])
    return finished


def config_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per config of every study: ``seeds`` (finished runs) and the mean and standard deviation
    (over runs, ``<metric>_mean`` / ``<metric>_std``, sample std, NaN for one run) of the selection
    objective and the report metrics. Rows are the configs' own trials (``trial_id``), summary columns kept;
    ``selection_replicates`` becomes the mean of the runs' bootstrap replicates (:mod:`results.base_guard`).
    """
    runs = config_runs(df)
    keys = [*STUDY_KEYS, "config_trial"]
    grouped = runs.groupby(keys, dropna=False)
    stats = grouped.size().rename("seeds").to_frame()
    for column in [c for c in SEED_METRICS if c in runs.columns]:
        stats[f"{column}_mean"] = grouped[column].mean()
        stats[f"{column}_std"] = grouped[column].std(ddof=1)
    own = runs[runs["trial_id"] == runs["config_trial"]].set_index(keys)
    if "selection_replicates" in runs.columns:
        stats["selection_replicates"] = grouped["selection_replicates"].agg(mean_replicates)
        own = own.drop(columns="selection_replicates")
    return own.join(stats, how="inner").reset_index().drop(columns="config_trial")


def best_configs(df: pd.DataFrame, max_latency_ms: float | None = None, guard_base: bool = True,
                 guard_rule: GuardRule = winners_curse_z) -> pd.DataFrame:
    """The config to ship per study: among configs with finalist runs, the best mean selection objective;
    without finalists, the best finished trial (as :func:`best_trials`). Columns of :func:`config_summary`
    and :data:`results.base_guard.GUARD_COLUMNS`.

    With ``guard_base`` the study's base config (the space's default) stays the answer unless the chosen
    config beats it beyond the noise of the comparison (selection split and seeds, :mod:`results.base_guard`;
    ``guard_rule`` sets how far beyond).

    With ``max_latency_ms`` only configs whose measured inference latency (ms
    per image at batch 1) is within it count; a study with none has no row.
    """
    summary = config_summary(df)
    configs = summary
    if max_latency_ms is not None:
        latency = configs["latency_ms"] if "latency_ms" in configs.columns else pd.Series(dtype=float)
        configs = configs[latency.notna() & (latency <= max_latency_ms)]
    if configs.empty:
        return configs
    configs = configs.assign(_has_finalists=configs["seeds"] > 1)
    ranked = configs.sort_values(
        [*STUDY_KEYS, "_has_finalists", "selection_objective_mean", "trial_id"],
        ascending=[True, True, True, False, False, True], kind="stable")
    best = ranked.groupby(STUDY_KEYS, dropna=False).head(1).drop(columns="_has_finalists").reset_index(drop=True)
    if not guard_base:
        return best
    return guarded(best, configs.drop(columns="_has_finalists"), _seed_noise_of(summary), STUDY_KEYS, guard_rule)


NOISE_PRIOR = 0.01  # the objective's seed std when no store holds finalist runs (demo-hard measured 0.002-0.015)


def seed_noise(rows: pd.DataFrame, dataset: str | None = None) -> float:
    """The median seed std of the selection objective over configs with >= 2 finished runs in ``rows``
    (a results-store frame), those on ``dataset`` when it has any; :data:`NOISE_PRIOR` without such configs."""
    return NOISE_PRIOR if rows.empty else _seed_noise_of(config_summary(rows), dataset)


def _seed_noise_of(configs: pd.DataFrame, dataset: str | None = None) -> float:
    """:func:`seed_noise` from a :func:`config_summary` frame."""
    spread = configs[configs["seeds"] > 1]
    if dataset is not None and (spread["dataset"] == dataset).any():
        spread = spread[spread["dataset"] == dataset]
    values = spread["selection_objective_std"].dropna()
    value = float(values.median()) if len(values) else math.nan
    return value if math.isfinite(value) and value > 0 else NOISE_PRIOR
