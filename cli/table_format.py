"""How the command line writes numbers in tables: ``-`` for a missing value, never 0."""

from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd


def metric(value: object, digits: int = 4) -> str:
    """A metric with ``digits`` decimals; ``-`` when it is missing (None or NaN)."""
    return "-" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def mean_std(mean: object, std: object) -> str:
    """``0.812±0.010``; the mean alone for one run; ``-`` when missing."""
    if mean is None or pd.isna(mean):
        return "-"
    if std is None or pd.isna(std) or math.isnan(float(std)):
        return f"{float(mean):.3f}"
    return f"{float(mean):.3f}±{float(std):.3f}"


def threshold_cell(threshold: Mapping[str, Any] | None) -> str:
    """``1.23 (0.90 / 0.85)``: a threshold with its report-split precision and recall; ``-`` for what is missing."""
    if not threshold or threshold.get("value") is None:
        return "-"
    return (f"{threshold['value']:.4g} ({metric(threshold.get('report_precision'), 2)} / "
            f"{metric(threshold.get('report_recall'), 2)})")
