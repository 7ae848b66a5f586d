"""A Tune callback that writes every trial's rows to the results store, from the driver.

The driver sees every outcome, pruned and crashed trials included, and needs no
shared filesystem with the workers: rows go to ``--storage`` (a folder or URI).
One row per epoch (status ``running``) and one ``final`` row per trial
(finished, pruned or failed with its reason). File names are deterministic, so
an epoch reported again after a resume replaces its file instead of adding rows.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Callable, Mapping

from ray.tune import Callback
from ray.tune.experiment import Trial

from results.schema import hp_column, utc_now
from results.store import ResultStore
from search.trainable import OBJECTIVE, TIME_ATTR
from ssflow import __version__
from ssflow.config import SSFlowConfig, config_to_flat, config_to_nested

METRIC_COLUMNS = (
    "selection_image_auroc", "selection_pixel_auroc", "selection_aupro",
    "report_image_auroc", "report_pixel_auroc", "report_aupro",
    "loss", "seconds", "epoch_seconds",
)


def trial_outcome(result: Mapping[str, Any], max_epochs: int) -> str:
    """finished | pruned | failed, from a completed trial's last result."""
    if result.get("status") == "failed":
        return "failed"
    return "finished" if result.get(TIME_ATTR, 0) >= max_epochs else "pruned"


def error_line(trial: Trial) -> str:
    """The last meaningful line of a trial's error (its exception), for the store."""
    error = trial.get_error()
    text = str(error) if error is not None else "trial failed"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "trial failed"


class StoreCallback(Callback):
    def __init__(self, store: ResultStore, experiment: str, max_epochs: int,
                 resolve: Callable[[Mapping[str, Any]], SSFlowConfig]) -> None:
        self.store = store
        self.experiment = experiment
        self.max_epochs = max_epochs
        self.resolve = resolve  # trial params -> resolved config
        self.started: dict[str, datetime.datetime] = {}

    def _row(self, trial: Trial, result: Mapping[str, Any], status: str, error: str | None) -> dict[str, Any]:
        config = self.resolve(trial.config)
        started = self.started.setdefault(trial.trial_id, utc_now())
        row: dict[str, Any] = {
            "experiment": self.experiment,
            "dataset": config.data.dataset,
            "category": config.data.category,
            "trial_id": trial.trial_id,
            "status": status,
            "error": error,
            "epoch": int(result.get(TIME_ATTR, 0)),
            "selection_objective": result.get(OBJECTIVE) if status != "failed" else None,
            "device": result.get("device"),
            "node": result.get("hostname") or result.get("node"),
            "node_ip": result.get("node_ip"),
            "started_at": started,
            "written_at": utc_now(),
            "seed": config.seed,
            "code_version": __version__,
            "config_json": json.dumps(config_to_nested(config), sort_keys=True),
        }
        row.update({name: result.get(name) for name in METRIC_COLUMNS})
        row.update({hp_column(key): value for key, value in config_to_flat(config).items()})
        return row

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.started.setdefault(trial.trial_id, utc_now())

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict, **info: Any) -> None:
        if result.get("status") == "running":
            self.store.write_rows([self._row(trial, result, "running", None)])

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        result = trial.last_result or {}
        status = trial_outcome(result, self.max_epochs)
        error = result.get("error") if status == "failed" else None
        self.store.write_rows([self._row(trial, result, status, error)])

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.store.write_rows([self._row(trial, trial.last_result or {}, "failed", error_line(trial))])
