"""Backbone features of a run's clean images, computed once and shared by every epoch and trial.

Every trial of a category runs the same frozen backbone over the same clean
training and test images; only the flow differs. The features are stored
under a key that hashes everything they depend on (each image file's path, size
and modification time, which also fixes the few-shot choice and the split; the
backbone, its weights' digest, levels and input size; this module's format
version), so a changed input is a new key and a stale entry is never read.

Writers put a ``.``-prefixed temporary file beside the entry and rename it into
place: trials that start together may both compute, one rename wins, and no
reader ever sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Callable

import torch

from ssflow.config import SSFlowConfig
from ssflow.data import PreparedData
from ssflow.train import RunFeatures

FORMAT_VERSION = 1


def _file_stamp(path: str) -> list[object]:
    stat = os.stat(path)
    return [path, stat.st_size, stat.st_mtime_ns]


def cache_key(config: SSFlowConfig, data: PreparedData, weights_id: str) -> str:
    """A digest of every input the clean features depend on."""
    description = {
        "format": FORMAT_VERSION,
        "backbone": config.backbone.name,
        "weights": weights_id,
        "levels": list(config.backbone.levels),
        "image_size": config.backbone.image_size,
        "train": [_file_stamp(p) for p in data.train_paths],
        "selection": [_file_stamp(p) for p in data.selection.paths],
        "report": [_file_stamp(p) for p in data.report.paths],
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _save_atomically(features: RunFeatures, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save({name: [level.cpu() for level in levels] for name, levels in features._asdict().items()},
                   temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _load(path: Path, device: torch.device) -> RunFeatures | None:
    try:
        stored = torch.load(path, map_location=device, weights_only=True)
        return RunFeatures(**{name: list(stored[name]) for name in RunFeatures._fields})
    except (OSError, RuntimeError, KeyError, EOFError):  # unreadable entry: recompute it
        return None


def cached_features(cache_dir: Path, key: str, device: torch.device,
                    compute: Callable[[], RunFeatures]) -> tuple[RunFeatures, bool]:
    """The features under ``key``, computing and storing them on a miss; also says whether it was a hit."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{key}.pt"
    if path.exists():
        features = _load(path, device)
        if features is not None:
            return features, True
    features = compute()
    _save_atomically(features, path)
    return features, False
