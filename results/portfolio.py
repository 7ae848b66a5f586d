"""Portfolios: a few configurations learned from earlier sweeps, tried first by a new one.

``run_search.py export --portfolio FILE`` learns one from a results store;
``run_search.py --portfolio FILE`` tries its configs first, before the base
config and TPE. What it learns (greedy set cover, as in portfolio-based
AutoML warm starts: Feurer et al. 2015, "Initializing Bayesian hyperparameter
optimization via meta-learning", AAAI; Auto-sklearn 2.0's portfolios):

1. every study (experiment, dataset, category) of the store has its configs
   that ran the full budget, each judged by its mean selection objective over
   seeds (:func:`results.ranking.config_summary`);
2. a config *covers* a study where it is within ``tolerance`` of that study's
   best (default: the median seed std of the objective over the store's
   finalist runs, :func:`results.ranking.seed_noise`); configs are the same
   config across studies when their portable values (model, flow, synthesis,
   loss, training and map keys, input keys; not the dataset, category, seed,
   budget or weights path) are equal;
3. the config covering the most uncovered studies is taken (ties: the smaller
   mean shortfall from the best over the studies it covers), until ``size``
   configs are taken or every study is covered.

The file is YAML: ``format: ssflow-portfolio/1``, where it was learned, and
``configs``: each with its flat ``values``, the studies it ``covers`` and its
``mean_shortfall``.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import yaml

from results.ranking import config_summary
from results.schema import HP_PREFIX
from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat
from ssflow.settings.yaml_files import read_yaml

FORMAT = "ssflow-portfolio/1"
_PORTABLE_SECTIONS = ("backbone.", "flow.", "synthesis.", "loss.", "train.", "map.")
_PORTABLE_DATA = ("data.tile_size", "data.tile_overlap", "data.scale", "data.keep_aspect")
_NOT_PORTABLE = ("backbone.weights", "train.epochs")  # a file path of one machine; the sweep's own budget
STUDY = ["experiment", "dataset", "category"]


def portable(key: str) -> bool:
    """Whether flat config ``key`` describes the method (carried by a portfolio) rather than the data or run."""
    return key not in _NOT_PORTABLE and (key.startswith(_PORTABLE_SECTIONS) or key in _PORTABLE_DATA)


def _portable_values(row: pd.Series) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, value in row.items():
        key = str(column).removeprefix(HP_PREFIX)
        if not str(column).startswith(HP_PREFIX) or not portable(key) or value is None or value is pd.NA:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        value = value.tolist() if hasattr(value, "tolist") else value
        values[key] = value
    return values


def _identity(values: Mapping[str, Any]) -> str:
    rounded = {key: float(f"{value:.6g}") if isinstance(value, float) else value for key, value in values.items()}
    return json.dumps(rounded, sort_keys=True)


def build_portfolio(rows: pd.DataFrame, size: int, tolerance: float) -> list[dict[str, Any]]:
    """Up to ``size`` configs covering the store's studies (module docstring), most covering first.

    ``rows``: a results-store frame (``ResultStore.read``); ``tolerance``: how
    far below a study's best mean selection objective a config still covers it.
    Each entry: ``values`` (flat, portable keys), ``covers`` (``experiment/dataset/category`` names) and
    ``mean_shortfall`` (mean distance to those studies' bests). Raises ``UserInputError`` when no config
    ran the full budget.
    """
    configs = config_summary(rows) if not rows.empty else pd.DataFrame()
    if configs.empty:
        raise UserInputError("no finished trial to learn a portfolio from (every trial was pruned, failed or "
                             "still running)")
    configs = configs.assign(_id=[_identity(_portable_values(row)) for _, row in configs.iterrows()],
                             _study=configs[STUDY].astype(str).agg("/".join, axis=1))
    best = configs.groupby("_study")["selection_objective_mean"].transform("max")
    configs = configs.assign(_shortfall=best - configs["selection_objective_mean"])
    covering = configs[configs["_shortfall"] <= tolerance]
    values = {row["_id"]: _portable_values(row) for _, row in configs.iterrows()}
    uncovered = set(configs["_study"])
    chosen: list[dict[str, Any]] = []
    while uncovered and len(chosen) < size:
        open_rows = covering[covering["_study"].isin(uncovered)]
        if open_rows.empty:
            break
        stats = open_rows.groupby("_id").agg(count=("_study", "nunique"), shortfall=("_shortfall", "mean"))
        pick = stats.sort_values(["count", "shortfall"], ascending=[False, True], kind="stable").index[0]
        covered = sorted(set(open_rows.loc[open_rows["_id"] == pick, "_study"]))
        chosen.append({"values": values[pick], "covers": covered,
                       "mean_shortfall": round(float(stats.loc[pick, "shortfall"]), 6)})
        uncovered -= set(covered)
    return chosen


def write_portfolio(path: Path, configs: Sequence[Mapping[str, Any]], experiments: Sequence[str],
                    tolerance: float) -> None:
    """Write a portfolio file (written to a temporary name, then renamed over ``path``)."""
    content = {
        "format": FORMAT,
        "learned_from": {"experiments": list(experiments), "tolerance": tolerance,
                         "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "configs": [dict(config) for config in configs],
    }
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(content, sort_keys=False))
    temporary.replace(path)


def read_portfolio(path: Path, base: SSFlowConfig) -> list[dict[str, Any]]:
    """The configs (flat values) of portfolio file ``path``, in order; each is checked against ``base``.

    Raises:
        UserInputError: a missing or unreadable file, another format, or a config with an unknown key or a
            bad value (one line naming the file and the config's number).
    """
    if not path.exists():
        raise UserInputError(f"--portfolio {path}: no such file (write one with 'ssflow-search export-config "
                             "--portfolio FILE --name SWEEP')")
    content = read_yaml(path, "--portfolio")
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("configs"),
                                                                                             list):
        raise UserInputError(f"--portfolio {path}: not a portfolio (expected 'format: {FORMAT}' and a list "
                             "'configs')")
    if not content["configs"]:
        raise UserInputError(f"--portfolio {path}: has no configs")
    configs = []
    for number, entry in enumerate(content["configs"], start=1):
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, dict) or not values:
            raise UserInputError(f"--portfolio {path}: config {number} has no 'values' mapping")
        unportable = sorted(key for key in values if not portable(str(key)))
        if unportable:
            raise UserInputError(f"--portfolio {path}: config {number} sets {', '.join(unportable)}, which a "
                                 "portfolio does not carry (data, seed, budget and weights keys are the sweep's)")
        try:
            config_from_flat(values, base)
        except UserInputError as error:
            raise UserInputError(f"--portfolio {path}: config {number}: {error}") from None
        configs.append(dict(values))
    return configs
