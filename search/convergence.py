"""When a category's search has found what it will find: its remaining expected gain against its noise.

A time-budgeted sweep stops a category's search once the gain still expected
from it is below the seed-to-seed noise of its objective, and spends the time
on categories still improving. Both sides are measured:

- **remaining expected gain**: Optuna's regret bound (``optuna.terminator.
  RegretBoundEvaluator``: a Gaussian-process upper bound of the best
  objective still reachable in the space minus the best lower bound among the
  trials, Makarova et al. 2022, "Automatic termination for hyperparameter
  optimization", AutoML Conf.) over the category's searched trials that ran
  the full budget, from :data:`MIN_FINISHED` of them on;
- **noise**: the median seed standard deviation of the selection objective
  over the configs that have finalist runs in the results store (this sweep's
  and earlier ones, the same dataset first), else ``NOISE_PRIOR`` (:func:`results.ranking.seed_noise`).

The same noise sizes the finalists: only configs whose objective is within
:data:`NOISE_BAND` noise standard deviations of the best are retrained with
other seeds (a best config further ahead than that needs no seeds to be
trusted over the rest).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

from optuna.study import StudyDirection
from optuna.terminator import RegretBoundEvaluator
from optuna.trial import FrozenTrial

from results.ranking import NOISE_PRIOR, seed_noise

__all__ = ["MIN_FINISHED", "NOISE_BAND", "NOISE_PRIOR", "remaining_gain", "seed_noise", "within_noise"]

MIN_FINISHED = 5  # full-budget searched trials before a regret bound is trusted
NOISE_BAND = 2.0  # finalists: configs within this many noise stds of the best


def remaining_gain(trials: Sequence[FrozenTrial]) -> float | None:
    """Upper bound of the objective still to gain over ``trials`` (complete, single-objective, maximised);
    None below :data:`MIN_FINISHED` trials."""
    if len(trials) < MIN_FINISHED:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the terminator is experimental in Optuna
        try:
            gain = float(RegretBoundEvaluator().evaluate(list(trials), StudyDirection.MAXIMIZE))
        except Exception:  # noqa: BLE001 - a Gaussian-process fit that fails must not end a sweep: keep searching
            return None
    return gain if math.isfinite(gain) else None


def within_noise(objectives: Sequence[float], noise: float) -> int:
    """How many of ``objectives`` (best first) are within :data:`NOISE_BAND` x ``noise`` of the first;
    0 when only the first is (the ranking is clear and finalists would not change it)."""
    if not objectives:
        return 0
    close = sum(1 for value in objectives if objectives[0] - value <= NOISE_BAND * noise)
    return close if close > 1 else 0
