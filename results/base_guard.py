"""The base config stays the answer unless a searched config beats it beyond the noise of the comparison.

A sweep that keeps the best of many trials on a small selection split keeps
some of that split's luck with it: on demo-hard's carpet (30 selection images)
a config ahead of the base config by 0.043 there was behind it by 0.045 on the
report split. So the config to ship replaces the base config (the space's
default, role ``base``) only when its gain on the selection objective exceeds
:data:`CONFIDENCE_Z` standard deviations of the comparison's noise, one-sided:

    noise^2 = split^2 + seed^2 * (1 / runs_best + 1 / runs_base)

``split`` is the standard deviation of the paired difference of the two
configs' bootstrap replicates over the selection images
(:mod:`ssflow.evaluation.split_noise`), ``seed`` the seed-to-seed standard
deviation of the objective (:func:`results.ranking.seed_noise`), ``runs`` each
config's finished runs (its own trial and its finalists). Without replicates
for both (stores of older versions, a base config that did not finish) the
best config is kept as before.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ssflow.evaluation.split_noise import paired_noise

CONFIDENCE_Z = 1.645  # one-sided 95 %: a searched config must be ahead with that confidence to replace the base
BASE_ROLE = "base"
GUARD_COLUMNS = ("gain_over_base", "gain_noise", "base_kept")


def mean_replicates(values: pd.Series) -> np.ndarray | None:
    """The element-wise mean of a config's runs' replicate vectors (R,) float64; None when no run has any
    (or their lengths differ: replicates of another version)."""
    vectors = [np.asarray(value, dtype=np.float64) for value in values if _is_vector(value)]
    if not vectors or len({vector.size for vector in vectors}) != 1:
        return None
    return np.mean(vectors, axis=0)


def guarded(best: pd.DataFrame, configs: pd.DataFrame, seed_noise: float, study_keys: list[str]) -> pd.DataFrame:
    """``best`` (one config per study) with each study's base config put back where the chosen one does not beat
    it beyond the noise; columns ``gain_over_base`` (selection objective, chosen - base), ``gain_noise`` (the
    comparison's standard deviation) and ``base_kept`` (True where the base replaced a better-looking config)
    added, NaN / False where the study has no comparable base config. ``configs``: every config of the studies
    (:func:`results.ranking.config_summary` with a ``selection_replicates`` column of mean replicates)."""
    rows = []
    for _, chosen in best.iterrows():
        base = _base_of(chosen, configs, study_keys)
        gain, noise = _comparison(chosen, base, seed_noise)
        keep_base = base is not None and math.isfinite(noise) and gain < CONFIDENCE_Z * noise
        row = (base if keep_base else chosen).copy()
        row["gain_over_base"], row["gain_noise"], row["base_kept"] = gain, noise, bool(keep_base)
        rows.append(row)
    if not rows:
        return best.assign(**{name: pd.Series(dtype=float) for name in GUARD_COLUMNS})
    return pd.DataFrame(rows).reset_index(drop=True)


def _base_of(chosen: pd.Series, configs: pd.DataFrame, study_keys: list[str]) -> pd.Series | None:
    if "role" not in configs.columns or chosen.get("role") == BASE_ROLE:
        return None
    same_study = np.logical_and.reduce([configs[key] == chosen[key] for key in study_keys])
    bases = configs[same_study & (configs["role"] == BASE_ROLE)]
    return bases.iloc[0] if len(bases) else None


def _comparison(chosen: pd.Series, base: pd.Series | None, seed_noise: float) -> tuple[float, float]:
    """(chosen - base on the mean selection objective, the standard deviation of that difference)."""
    if base is None:
        return math.nan, math.nan
    gain = float(chosen["selection_objective_mean"] - base["selection_objective_mean"])
    first, second = chosen.get("selection_replicates"), base.get("selection_replicates")
    if not (_is_vector(first) and _is_vector(second)) or np.size(first) != np.size(second):
        return gain, math.nan
    split = paired_noise(np.asarray(first), np.asarray(second))
    seeds = seed_noise ** 2 * (1.0 / float(chosen["seeds"]) + 1.0 / float(base["seeds"]))
    return gain, math.sqrt(split ** 2 + seeds)


def _is_vector(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and np.size(value) >= 2
