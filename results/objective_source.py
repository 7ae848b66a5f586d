"""What a sweep's selection objective and default threshold were computed on, in words for tables and exports.

A sweep tunes on the labelled selection split, on synthetic validation
anomalies only (``validation.synthetic_weight`` 1: ``--objective synthetic``
or a category without labelled defects), or on a blend of the two. Tables and
export files must say which, so that nobody reads a label-free model's
numbers as chosen with labels.
"""

from __future__ import annotations

import pandas as pd

from ssflow.evaluation.calibration import LABEL_FREE_RATE
from ssflow_runtime.calibration import rate_label
from ssflow.settings.config import is_label_free

WEIGHT_COLUMN = "hp.validation.synthetic_weight"


def synthetic_weight(rows: pd.DataFrame | pd.Series) -> float:
    """The synthetic validation weight of a trial (Series) or the smallest over trials (frame); 0 when unknown."""
    labels = rows.index if isinstance(rows, pd.Series) else rows.columns
    if WEIGHT_COLUMN not in labels:
        return 0.0
    values = pd.to_numeric(pd.Series(rows[WEIGHT_COLUMN]), errors="coerce").dropna()
    return float(values.min()) if len(values) else 0.0


def chosen_on(weight: float) -> str:
    """Where the selection objective comes from, e.g. 'synthetic validation anomalies (no labelled defect)'."""
    if is_label_free(weight):
        return "synthetic validation anomalies (no labelled defect)"
    if weight > 0.0:
        return f"the selection split blended with synthetic validation anomalies (weight {weight:g})"
    return "the selection split"


def threshold_rule(weight: float) -> str:
    """How the shipped default threshold was set for a sweep of this weight."""
    if is_label_free(weight):
        return f"false-positive rate <= {rate_label(LABEL_FREE_RATE)} on held-out normal images (no labelled defect)"
    return "best F1 on the selection split"
