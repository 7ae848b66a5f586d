"""One anomalib PatchCore fit per category, timed: the unit of ``search_gain.py --budgets``.

PatchCore needs no tuning and fits in one pass, so the time of that fit is
what a sweep must pay within (anomalib's default settings, 10 % coreset, as
a user would run it).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat


def patchcore_seconds(dataset: str, category: str) -> float:
    """Seconds of one anomalib PatchCore fit of ``category`` of ``dataset`` (default settings, 10 % coreset) on
    this machine."""
    from baselines import run_baseline  # needs the [bench] extra

    data = prepare_data(config_from_flat({"data.dataset": dataset, "data.category": category}))
    return run_baseline("patchcore", data.train, data.report, 0, torch.device("cpu"), 0.1).train_seconds


def patchcore_fits(dataset: str, categories: list[str], storage: Path, resume: bool) -> dict[str, float]:
    """PatchCore fit seconds per category, timed now, or when ``resume`` those the run timed before it was
    interrupted (kept in ``storage``: the unit of its budgets, so a resumed run's budgets stay the same)."""
    path = storage / "patchcore_fits.json"
    if resume and path.is_file():
        return json.loads(path.read_text())
    fits = {category: patchcore_seconds(dataset, category) for category in categories}
    path.write_text(json.dumps(fits))
    return fits
