"""Warm starts: the best configs of an earlier sweep, offered to a new sweep's studies after the base config.

``--warm-start NAME`` reads sweep ``NAME`` from the same results store and
takes its best config per category (by the mean over finalist seeds where it
has finalists, see :func:`results.ranking.best_configs`). A category's own
earlier best comes first, then the other categories' bests; each study keeps
those that differ from its base config on the current space's parameters.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from results.ranking import best_configs
from results.schema import HP_PREFIX
from results.store import ResultStore
from ssflow.errors import UserInputError


def _values(row: pd.Series) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, value in row.items():
        if not str(column).startswith(HP_PREFIX) or value is None or value is pd.NA:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        values[str(column)[len(HP_PREFIX):]] = value.item() if hasattr(value, "item") else value
    return values


def earlier_bests(store: ResultStore, sweep: str, dataset: str) -> dict[str, dict[str, Any]]:
    """``{category: flat config values}`` of sweep ``sweep``'s best configs on ``dataset``.

    Raises ``UserInputError`` when the store holds no such sweep or it has no
    finished trial on ``dataset``.
    """
    experiments = store.experiments()
    if sweep not in experiments:
        held = ", ".join(experiments) or "no sweep"
        raise UserInputError(f"--warm-start {sweep}: no such sweep in {store.root}; it holds {held}")
    rows = store.read(experiment=sweep, dataset=dataset)
    best = best_configs(rows) if not rows.empty else rows
    if best.empty:
        raise UserInputError(f"--warm-start {sweep}: it has no finished trial on dataset {dataset}")
    return {str(row["category"]): _values(row) for _, row in best.iterrows()}


def warm_configs(bests: dict[str, dict[str, Any]], category: str, sweep: str) -> list[tuple[dict[str, Any], str]]:
    """(values, source) pairs for ``category``: its own earlier best first, then the other categories'."""
    ordered = sorted(bests, key=lambda name: (name != category, name))
    return [(bests[name], f"best of category {name} in sweep {sweep}") for name in ordered]
