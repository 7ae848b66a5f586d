"""A small results store written the way sweeps write it: two categories, finished, pruned and failed trials."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from results.schema import hp_column
from results.store import ResultStore
from ssflow.settings.config_files import config_to_nested
from ssflow.settings.flat_config import config_from_flat, config_to_flat

EXPERIMENT = "sweep1"
EPOCHS = 6
START = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)

# category -> trial id -> (final status, objective per epoch, report image AUROC, varying hyperparameters)
TRIALS: dict[str, dict[str, tuple[str, list[float], float, dict[str, Any]]]] = {
    "carpet": {
        "c-best": ("finished", [0.5, 0.6, 0.7, 0.75, 0.8, 0.9], 0.70,
                   {"flow.coupling_blocks": 8, "train.lr": 1e-3, "synthesis.blend": "poisson"}),
        "c-report": ("finished", [0.5, 0.6, 0.7, 0.7, 0.8, 0.85], 0.99,
                     {"flow.coupling_blocks": 4, "train.lr": 1e-4, "synthesis.blend": "alpha"}),
        "c-early": ("pruned", [0.3], 0.40, {"flow.coupling_blocks": 2, "train.lr": 3e-3, "synthesis.blend": "mixed"}),
        "c-fail": ("failed", [0.4, 0.2], 0.30, {"flow.coupling_blocks": 16, "train.lr": 5e-2,
                                               "synthesis.blend": "poisson"}),
    },
    "grid": {
        "g-best": ("finished", [0.6, 0.6, 0.7, 0.7, 0.7, 0.8], 0.81,
                   {"flow.coupling_blocks": 4, "train.lr": 1e-3, "synthesis.blend": "poisson"}),
        "g-rung3": ("pruned", [0.4, 0.5, 0.55], 0.60, {"flow.coupling_blocks": 8, "train.lr": 1e-3,
                                                       "synthesis.blend": "poisson"}),
        "g-rung1": ("pruned", [0.2], 0.50, {"flow.coupling_blocks": 2, "train.lr": 1e-3, "synthesis.blend": "poisson"}),
        "g-fail": ("failed", [0.1], 0.10, {"flow.coupling_blocks": 16, "train.lr": 1e-3, "synthesis.blend": "poisson"}),
    },
}


def trial_flat(category: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The flat config a trial ran with: the full budget, its category and its sampled values."""
    return {"data.dataset": "mvtec", "data.category": category, "train.epochs": EPOCHS,
            "backbone.image_size": 64, **hyperparameters}


def trial_rows(experiment: str, category: str, trial_id: str, status: str, objectives: list[float],
               report: float, hyperparameters: dict[str, Any]) -> list[dict[str, Any]]:
    config = config_from_flat(trial_flat(category, hyperparameters))
    shared = {
        "experiment": experiment, "dataset": "mvtec", "category": category, "trial_id": trial_id,
        "started_at": START, "code_version": "0.1.0", "seed": 0,
        "config_json": json.dumps(config_to_nested(config), sort_keys=True),
        **{hp_column(key): value for key, value in config_to_flat(config).items()},
    }
    rows = [{**shared, "status": "running", "epoch": epoch, "selection_objective": objective,
             "selection_image_auroc": objective, "report_image_auroc": report, "report_pixel_auroc": report - 0.05,
             "report_aupro": report - 0.1, "seconds": 4.0 * epoch,
             "written_at": START + datetime.timedelta(minutes=epoch)}
            for epoch, objective in enumerate(objectives, start=1)]
    final = {**rows[-1], "status": status, "written_at": rows[-1]["written_at"] + datetime.timedelta(seconds=1)}
    if status == "failed":
        final.update(error="loss diverged [nan]", selection_objective=None)
    return [*rows, final]


def build_store(root: Path, experiment: str = EXPERIMENT,
                trials: dict[str, dict[str, tuple]] | None = None) -> ResultStore:
    store = ResultStore(root)
    rows = [row for category, by_id in (trials or TRIALS).items() for trial_id, spec in by_id.items()
            for row in trial_rows(experiment, category, trial_id, *spec)]
    store.write_rows(rows)
    return store
