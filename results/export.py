"""The content of a best-config export file, built from a results frame.

Per category the config is chosen by :func:`results.ranking.best_configs`
(selection split only; by the mean over seeds where the config has finalist
runs); its report-split metrics travel along for reading, with the mean and
standard deviation over its seeds. Only finished trials are exported: a
pruned trial never ran its full budget. Writing is
:func:`ssflow.settings.exported.write_export`'s job.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, NamedTuple

import pandas as pd

from results.objective_source import chosen_on, synthetic_weight, threshold_rule
from results.ranking import best_configs
from results.schema import REPORT_METRICS, SELECTION_METRICS
from ssflow.settings.config_files import config_to_nested, flatten_nested
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat


class ExportContent(NamedTuple):
    header: dict[str, Any]  # experiment, date, code version
    categories: dict[str, dict[str, Any]]  # category -> config, dataset, trial_id, metrics, provenance
    notes: list[str]  # one line per category left out, and why


def build_export(df: pd.DataFrame, experiment: str, code_version: str,
                 exported_at: datetime.datetime, max_latency_ms: float | None = None) -> ExportContent:
    """The export content of ``experiment``'s rows in ``df`` (rows of other experiments are ignored).

    With ``max_latency_ms`` each category's config is the best whose measured
    inference latency is within that budget. Raises ``UserInputError`` when no
    category has a finished trial (within the budget), or when two datasets
    share a category name (the file is keyed by category).
    """
    rows = df[df["experiment"] == experiment]
    best = best_configs(rows, max_latency_ms).set_index(["dataset", "category"]) if not rows.empty else pd.DataFrame()
    categories: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for (dataset, category), trials in rows.groupby(["dataset", "category"], sort=True):
        if (dataset, category) not in best.index or best.loc[(dataset, category), "status"] != "finished":
            notes.append(f"skipped {dataset}/{category}: {_why_none(trials, max_latency_ms)}")
            continue
        if category in categories:
            raise UserInputError(
                f"category '{category}' is in datasets {categories[category]['dataset']} and {dataset}; "
                "pick one with --dataset")
        categories[category] = category_entry(best.loc[(dataset, category)], dataset)
    if not categories:
        budget = f" within {max_latency_ms:g} ms" if max_latency_ms is not None else ""
        raise UserInputError(f"experiment '{experiment}' has no finished trial{budget} to export "
                             f"({'; '.join(notes) or 'no rows'}); let the search run longer")
    header = {"experiment": experiment, "exported_at": exported_at.isoformat(timespec="seconds"),
              "code_version": code_version}
    return ExportContent(header, categories, notes)


def category_entry(trial: pd.Series, dataset: str) -> dict[str, Any]:
    """One category's export entry from its best trial's summary row (see ``trial_summary``)."""
    source = f"results of trial {trial['trial_id']}"
    if not isinstance(trial.get("config_json"), str):
        raise UserInputError(f"{source}: no config_json stored, so its config cannot be exported")
    try:
        nested = json.loads(trial["config_json"])
    except json.JSONDecodeError as error:
        raise UserInputError(f"{source}: config_json is not valid JSON ({error.msg})") from None
    # Through the dataclasses and back, so the file holds exactly what loading it will give.
    config = config_from_flat(flatten_nested(nested, source))
    weight = synthetic_weight(trial)
    return {
        "dataset": dataset,
        "trial_id": str(trial["trial_id"]),
        "epochs": int(trial["last_epoch"]),
        "chosen_on": chosen_on(weight),
        "selection_objective": _number(trial["selection_objective"]),
        "selection": _metrics(trial, SELECTION_METRICS[:-1], "selection_"),
        "report": _metrics(trial, REPORT_METRICS, "report_"),
        **_over_seeds(trial),
        **_against_base(trial),
        "latency_ms": _number(trial.get("latency_ms")),
        "threshold": {"value": _number(trial.get("threshold")), "rule": threshold_rule(weight),
                      "report_precision": _number(trial.get("report_precision")),
                      "report_recall": _number(trial.get("report_recall"))},
        "started_at": _date(trial.get("started_at")),
        "trial_code_version": _text(trial.get("code_version")),
        "config": config_to_nested(config),
    }


def _why_none(trials: pd.DataFrame, max_latency_ms: float | None) -> str:
    """Why a category has nothing to export: no finished trial, or none within the latency budget."""
    finished = trials[trials["status"] == "finished"]
    if max_latency_ms is None or finished.empty:
        return f"no finished trial ({_status_counts(trials)})"
    latency = finished["latency_ms"].dropna() if "latency_ms" in finished.columns else pd.Series(dtype=float)
    fastest = (f"the fastest finished config takes {latency.min():.1f} ms" if len(latency)
               else "its trials recorded no latency: a sweep of an older version")
    return f"no finished config within {max_latency_ms:g} ms ({fastest})"


def _over_seeds(trial: pd.Series) -> dict[str, Any]:
    """How the config did over its runs (its trial and its finalists): count, mean and standard deviation."""
    if "seeds" not in trial.index:
        return {}
    report = [column.removeprefix("report_") for column in REPORT_METRICS]
    return {
        "seeds": int(trial["seeds"]),
        "selection_objective_mean": _number(trial.get("selection_objective_mean")),
        "selection_objective_std": _number(trial.get("selection_objective_std")),
        "report_mean": {name: _number(trial.get(f"report_{name}_mean")) for name in report},
        "report_std": {name: _number(trial.get(f"report_{name}_std")) for name in report},
    }


def _against_base(trial: pd.Series) -> dict[str, Any]:
    """The chosen config against the base config (:mod:`results.base_guard`): the gain on the selection
    objective, the noise of that comparison, and whether the base was kept because the gain was within it."""
    if "base_kept" not in trial.index:
        return {}
    return {"against_base": {"gain": _number(trial.get("gain_over_base")), "noise": _number(trial.get("gain_noise")),
                             "threshold": _number(trial.get("gain_threshold")),
                             "base_kept": bool(trial.get("base_kept"))}}


def _metrics(trial: pd.Series, columns: tuple[str, ...], prefix: str) -> dict[str, float | None]:
    return {column.removeprefix(prefix): _number(trial.get(column)) for column in columns}


def _number(value: Any) -> float | None:
    """A plain float for YAML (numpy scalars would not dump), None for missing."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _date(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value).isoformat(timespec="seconds")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _status_counts(trials: pd.DataFrame) -> str:
    finals = trials[trials["status"] != "running"].drop_duplicates("trial_id", keep="last")
    counts = finals["status"].value_counts().sort_index()
    unfinished = trials["trial_id"].nunique() - len(finals)
    parts = [f"{int(n)} {status}" for status, n in counts.items()]
    if unfinished:
        parts.append(f"{unfinished} running")
    return ", ".join(parts) or "no trials"
