"""A Tune callback that writes every trial's rows to the results store, from the driver.

The driver sees every outcome, pruned and crashed trials included, and needs no
shared filesystem with the workers: rows go to ``--storage`` (a folder or URI).
One row per epoch (status ``running``) and one ``final`` row per trial
(finished, pruned or failed with its reason). Rows carry the trial's logical
key (``trial_id``), which a trial keeps when a resumed sweep continues it, so
an epoch reported again after a resume replaces its file instead of adding rows.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any, Callable, Mapping

from ray.tune import Callback
from ray.tune.stopper import Stopper
from ray.tune.experiment import Trial

from results.schema import ENDED_WITHOUT_MODEL, REPORT_METRICS, SELECTION_METRICS, SYNTHETIC_METRICS, hp_column, utc_now
from results.store import ResultStore
from search.searcher import OBJECTIVE, TIME_ATTR
from ssflow import __version__
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import config_to_nested
from ssflow.settings.flat_config import config_to_flat

METRIC_COLUMNS = (
    *SELECTION_METRICS[:-1], *REPORT_METRICS, *SYNTHETIC_METRICS, "loss", "seconds", "epoch_seconds", "latency_ms",
    "threshold", "report_precision", "report_recall", "features_computed",
)


def trial_outcome(result: Mapping[str, Any], max_epochs: int) -> str:
    """finished | pruned | diverged | failed, from a completed trial's last result."""
    if result.get("status") in ENDED_WITHOUT_MODEL:
        return result["status"]
    return "finished" if result.get(TIME_ATTR, 0) >= max_epochs else "pruned"


# Tune's error file holds one block per failure, each under a header like this.
_FAILURE_HEADER = re.compile(r"^Failure # \d+ \(occurred at [^)]*\)$", re.MULTILINE)
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _last_failure(trial: Trial) -> str:
    """The text of a trial's latest failure.

    Read from the driver's own copy of the error file: the copy in the
    experiment storage is synced later and is often missing when the trial errs.
    """
    path = trial.error_file
    if path and os.path.isfile(path):
        with open(path, errors="replace") as handle:
            return _FAILURE_HEADER.split(handle.read())[-1]
    error = trial.get_error()
    return str(error) if error is not None else ""


def error_line(trial: Trial) -> str:
    """One line saying why a trial failed, for the store.

    A Python exception is the last line of its traceback; Ray's own errors (a
    lost node, a worker killed by the out-of-memory monitor) say what happened
    on their first line.
    """
    text = _ANSI_COLOUR.sub("", _last_failure(trial))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "trial failed"
    traceback = any(line.startswith('File "') for line in lines)
    return (lines[-1] if traceback else lines[0])[:500]


class StoreCallback(Callback):
    def __init__(self, store: ResultStore, experiment: str, max_epochs: int,
                 resolve: Callable[[Mapping[str, Any]], SSFlowConfig]) -> None:
        self.store = store
        self.experiment = experiment
        self.max_epochs = max_epochs
        self.resolve = resolve  # a trial's config (search.studies.TrialSpec as a dict) -> resolved config
        self.started: dict[str, datetime.datetime] = {}
        self.write_failure: OSError | None = None  # the first write that failed; the sweep stops on it

    def _write(self, row: dict[str, Any]) -> None:
        """Write one row; a failing write (disk full, permission) is kept in :attr:`write_failure`, which stops
        the sweep (:class:`WriteFailureStop`): every later row would fail too, and the trials whose rows are
        missing resume from their last recorded epoch."""
        if self.write_failure is not None:
            return
        try:
            self.store.write_rows([row])
        except OSError as error:
            self.write_failure = error

    def _row(self, trial: Trial, result: Mapping[str, Any], status: str, error: str | None) -> dict[str, Any]:
        config = self.resolve(trial.config)
        key = trial.config["key"]
        started = self.started.setdefault(key, utc_now())
        row: dict[str, Any] = {
            "experiment": self.experiment,
            "dataset": config.data.dataset,
            "category": config.data.category,
            "trial_id": key,
            "role": trial.config["role"],
            "parent_trial": trial.config["parent"] or None,
            "status": status,
            "error": error,
            "epoch": int(result.get(TIME_ATTR, 0)),
            "selection_objective": result.get(OBJECTIVE) if status not in ENDED_WITHOUT_MODEL else None,
            "device": result.get("device"),
            "node": result.get("node") or result.get("hostname"),  # ours names the Ray node too
            "node_ip": result.get("node_ip"),
            "started_at": started,
            "written_at": utc_now(),
            "seed": config.seed,
            "code_version": __version__,
            "train_outliers": result.get("train_outliers"),
            "selection_replicates": result.get("selection_replicates"),
            "config_json": json.dumps(config_to_nested(config), sort_keys=True),
        }
        row.update({name: result.get(name) for name in METRIC_COLUMNS})
        row.update({hp_column(name): value for name, value in config_to_flat(config).items()})
        return row

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.started.setdefault(trial.config["key"], utc_now())

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial,
                        result: dict, **info: Any) -> None:
        if result.get("status") == "running":
            self._write(self._row(trial, result, "running", None))

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        result = trial.last_result or {}
        status = trial_outcome(result, self.max_epochs)
        error = result.get("error") if status in ENDED_WITHOUT_MODEL else None
        self._write(self._row(trial, result, status, error))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._write(self._row(trial, trial.last_result or {}, "failed", error_line(trial)))


class WriteFailureStop(Stopper):
    """Stops every trial once the store callback could not write (see :meth:`StoreCallback._write`)."""

    def __init__(self, callback: StoreCallback) -> None:
        self.callback = callback

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.callback.write_failure is not None
