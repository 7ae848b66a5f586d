"""Quality against inference latency: the Pareto front of a study's configs.

A config (a finished trial and its finalist runs, see
:func:`results.ranking.config_summary`) dominates another when its mean
selection objective is at least as high and its latency (ms per image at
batch 1, measured on the trial's node) at most as high, one of them strictly.
The front is the configs no other config dominates; a pure function of a
results frame. The best config within a latency budget is
:func:`results.ranking.best_configs` with ``max_latency_ms``.
"""

from __future__ import annotations

import pandas as pd

from results.ranking import STUDY_KEYS, config_summary

QUALITY = "selection_objective_mean"
LATENCY = "latency_ms"


def pareto_front(df: pd.DataFrame) -> pd.DataFrame:
    """Per study, the configs on the quality/latency Pareto front, fastest first.

    Configs without a latency are left out. Columns of
    :func:`results.ranking.config_summary`.
    """
    configs = config_summary(df)
    if configs.empty or LATENCY not in configs.columns:
        return configs.iloc[0:0]
    configs = configs[configs[LATENCY].notna() & configs[QUALITY].notna()]
    fronts = [_front(study) for _, study in configs.groupby(STUDY_KEYS, dropna=False, sort=True)]
    return pd.concat(fronts, ignore_index=True) if fronts else configs.iloc[0:0]


def _front(study: pd.DataFrame) -> pd.DataFrame:
    """Sweep from fastest to slowest: a config is on the front when it beats every faster one's quality."""
    ordered = study.sort_values([LATENCY, QUALITY], ascending=[True, False], kind="stable")
    kept, best = [], float("-inf")
    for index, row in ordered.iterrows():
        if row[QUALITY] > best:
            kept.append(index)
            best = row[QUALITY]
    return ordered.loc[kept]
