"""The base config stays the answer unless a searched config beats it beyond the noise of the comparison.

A sweep that keeps the best of many trials on a small selection split keeps
some of that split's luck with it: on demo-hard's carpet (30 selection images)
a config ahead of the base config by 0.043 there was behind it by 0.045 on the
report split. So the config to ship replaces the base config (the space's
default, role ``base``) only when its gain on the selection objective exceeds
``z`` standard deviations of the comparison's noise:

    noise^2 = split^2 + seed^2 * (1 / runs_best + 1 / runs_base)
    z = max(MIN_Z, sqrt(1 - rho) * E[max of k standard normals])

``split`` is the standard deviation of the paired difference of the two
configs' bootstrap replicates over the selection images
(:mod:`ssflow.evaluation.split_noise`), ``seed`` the seed-to-seed standard
deviation of the objective (:func:`results.ranking.seed_noise`), ``runs`` each
config's finished runs (its own trial and its finalists), ``k`` the number of
searched configs that finished (the pool the chosen one is the best of) and
``rho`` the mean correlation of their leads over the base (the split's share,
measured across the bootstrap replicates, and the base config's seed luck,
which every lead shares). The second term is the winner's curse: the best of k
configs exactly as good as the base leads it by that many standard deviations
on average (1.03 for 4, 1.54 for 10, 2.25 for 50, when their errors are
independent); configs that err on the same images share their luck and
cannot beat each other by it, hence ``sqrt(1 - rho)`` (on demo-hard rho is
0.85-0.96: most of a comparison's noise is the base config's own luck on the
split). :data:`MIN_Z` (one standard deviation, one-sided 84 %) holds off a
lead that is mostly noise however few configs were compared. Replayed on the
75 export decisions of demo-hard's anytime sweeps
(``benchmarks/guard_rules.py``) this rule lost more than 0.01 report
objective against the base config nowhere and shipped more than a fixed 1.645
(see the table in benchmarks/README.md).
Without replicates for both (stores of older versions, a base config that did
not finish) the best config is kept as before.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
from scipy import integrate
from scipy.stats import norm

from ssflow.evaluation.split_noise import paired_noise

MIN_Z = 1.0  # the least lead, in noise standard deviations, that replaces the base config
BASE_ROLE = "base"
GUARD_COLUMNS = ("gain_over_base", "gain_noise", "gain_threshold", "base_kept")

GuardRule = Callable[[int, float], float]
"""How many noise standard deviations a chosen config must lead the base by, given how many searched configs
(finished, the base not counted) it was chosen from and the mean correlation of their comparisons' noise."""


def fixed_z(z: float) -> GuardRule:
    """The same threshold ``z`` whatever the configs compared (e.g. 1.645: one-sided 95 %)."""
    return lambda compared, correlation: z


def expected_max_z(compared: int) -> float:
    """E[max of ``compared`` independent standard normals]: the lead over an equally good base that the best
    of that many configs shows by luck alone on average (0 for one config; 1.03 for 4; 1.54 for 10). The
    winner's-curse correction of the selected config's gain (order statistics of the normal: Bose & Gupta,
    Biometrika 1959), by numerical integration."""
    if compared <= 1:
        return 0.0
    value, _ = integrate.quad(lambda x: x * compared * norm.pdf(x) * norm.cdf(x) ** (compared - 1), -12.0, 12.0)
    return float(value)


def winners_curse_z(compared: int, correlation: float = 0.0) -> float:
    """The default rule: ``max(MIN_Z, sqrt(1 - correlation) * expected_max_z(compared))`` standard deviations.

    ``correlation`` in [0, 1]: the mean pairwise correlation of the compared configs' leads over the base. The
    maximum of k equicorrelated standard normals is ``sqrt(rho) Z0 + sqrt(1 - rho) max(Z1..Zk)``, so its mean is
    ``sqrt(1 - rho)`` times the independent one (Owen & Steck, Ann. Math. Statist. 1962): configs that err on
    the same selection images cannot win by luck against each other. Raises ``ValueError`` outside [0, 1]."""
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"correlation {correlation}: expected a value in [0, 1]")
    return max(MIN_Z, math.sqrt(1.0 - correlation) * expected_max_z(compared))


def mean_replicates(values: pd.Series) -> np.ndarray | None:
    """The element-wise mean of a config's runs' replicate vectors (R,) float64; None when no run has any
    (or their lengths differ: replicates of another version)."""
    vectors = [np.asarray(value, dtype=np.float64) for value in values if _is_vector(value)]
    if not vectors or len({vector.size for vector in vectors}) != 1:
        return None
    return np.mean(vectors, axis=0)


def guarded(best: pd.DataFrame, configs: pd.DataFrame, seed_noise: float, study_keys: list[str],
            rule: GuardRule = winners_curse_z) -> pd.DataFrame:
    """``best`` (one config per study) with each study's base config put back where the chosen one does not beat
    it beyond the noise; columns ``gain_over_base`` (selection objective, chosen - base), ``gain_noise`` (the
    comparison's standard deviation), ``gain_threshold`` (the lead needed: the rule's z times the noise) and
    ``base_kept`` (True where the base replaced a better-looking config) added, NaN / False where the study has
    no comparable base config. ``configs``: every config of the studies
    (:func:`results.ranking.config_summary` with a ``selection_replicates`` column of mean replicates).
    ``rule`` gives the threshold in noise standard deviations (:data:`GuardRule`)."""
    rows = []
    for _, chosen in best.iterrows():
        study = _study_of(chosen, configs, study_keys)
        base = _base_of(chosen, study)
        gain, split, seeds_chosen, seeds_base = _comparison(chosen, base, seed_noise)
        noise = math.sqrt(split ** 2 + seeds_chosen + seeds_base)
        searched = study[study["role"] != BASE_ROLE] if "role" in study.columns else study
        # The leads share the split's correlated part and all of the base config's seed luck.
        shared = (_lead_correlation(searched, base) * split ** 2 + seeds_base) / noise ** 2 if noise > 0 else 0.0
        threshold = rule(len(searched), shared) * noise if math.isfinite(noise) else math.nan
        keep_base = base is not None and math.isfinite(noise) and gain < threshold
        row = (base if keep_base else chosen).copy()
        row["gain_over_base"], row["gain_noise"], row["gain_threshold"] = gain, noise, threshold
        row["base_kept"] = bool(keep_base)
        rows.append(row)
    if not rows:
        return best.assign(**{name: pd.Series(dtype=float) for name in GUARD_COLUMNS})
    return pd.DataFrame(rows).reset_index(drop=True)


def _study_of(chosen: pd.Series, configs: pd.DataFrame, study_keys: list[str]) -> pd.DataFrame:
    return configs[np.logical_and.reduce([configs[key] == chosen[key] for key in study_keys])]


def _base_of(chosen: pd.Series, study: pd.DataFrame) -> pd.Series | None:
    if "role" not in study.columns or chosen.get("role") == BASE_ROLE:
        return None
    bases = study[study["role"] == BASE_ROLE]
    return bases.iloc[0] if len(bases) else None


def _lead_correlation(searched: pd.DataFrame, base: pd.Series | None) -> float:
    """The mean pairwise correlation, over the bootstrap replicates, of the searched configs' leads over the
    base config (the split's share of their noise), clipped to [0, 1]; 0 (independent: the larger correction)
    with fewer than two to correlate."""
    if base is None or not _is_vector(base.get("selection_replicates")):
        return 0.0
    reference = np.asarray(base["selection_replicates"], dtype=np.float64)
    leads = [np.asarray(value, dtype=np.float64) - reference for value in searched.get("selection_replicates", [])
             if _is_vector(value) and np.size(value) == reference.size]
    leads = [lead for lead in leads if np.std(lead) > 0]
    if len(leads) < 2:
        return 0.0
    matrix = np.corrcoef(np.stack(leads))
    mean = float(matrix[~np.eye(len(leads), dtype=bool)].mean())
    return min(1.0, max(0.0, mean))


def _comparison(chosen: pd.Series, base: pd.Series | None, seed_noise: float
                ) -> tuple[float, float, float, float]:
    """(chosen - base on the mean selection objective, the split noise of that difference (sd), the seed
    variance of the chosen config's mean and of the base config's); NaN where there is nothing to compare."""
    if base is None:
        return (math.nan,) * 4
    gain = float(chosen["selection_objective_mean"] - base["selection_objective_mean"])
    first, second = chosen.get("selection_replicates"), base.get("selection_replicates")
    if not (_is_vector(first) and _is_vector(second)) or np.size(first) != np.size(second):
        return gain, math.nan, math.nan, math.nan
    split = paired_noise(np.asarray(first), np.asarray(second))
    return gain, split, seed_noise ** 2 / float(chosen["seeds"]), seed_noise ** 2 / float(base["seeds"])


def _is_vector(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and np.size(value) >= 2
