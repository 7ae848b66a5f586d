"""Backbone features of a run's clean images (and its synthetic bank), computed once and shared.

Every trial of a category runs the same frozen backbone over the same clean
training and test images; only the flow differs. The features are stored
under a key that hashes everything they depend on (each image file's path, size
and modification time, which also fixes the few-shot choice and the split; the
backbone, its weights' digest, levels and input size; this module's format
version), so a changed input is a new key and a stale entry is never read.

Writers put a ``.``-prefixed temporary file beside the entry and rename it into
place: trials that start together may both compute, one rename wins, and no
reader ever sees half a file.

A synthetic bank (:mod:`ssflow.synthetic_bank`) is stored the same way under
a key that adds the synthesis settings, the number of rounds and the seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Callable, TypeVar

import torch

from ssflow.config import SSFlowConfig
from ssflow.data import PreparedData
from ssflow.synthetic_bank import SyntheticBank
from ssflow.train import RunFeatures

Stored = TypeVar("Stored", RunFeatures, SyntheticBank)

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
    return _digest(description)


def bank_key(config: SSFlowConfig, data: PreparedData, weights_id: str) -> str:
    """A digest of every input a synthetic bank depends on: the clean key's, the synthesis settings and the seed."""
    return _digest({
        "clean": cache_key(config, data, weights_id),
        "synthesis": dataclasses.asdict(config.synthesis),
        "seed": config.seed,
    })


def _digest(description: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _to_cpu(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    return value


def _save_atomically(entry: RunFeatures | SyntheticBank, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save({name: _to_cpu(value) for name, value in entry._asdict().items()}, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _load(path: Path, device: torch.device, kind: type[Stored]) -> Stored | None:
    try:
        stored = torch.load(path, map_location=device, weights_only=True)
        return kind(**{name: stored[name] for name in kind._fields})
    except (OSError, RuntimeError, KeyError, EOFError, TypeError):  # unreadable entry: recompute it
        return None


def _cached(cache_dir: Path, name: str, device: torch.device, kind: type[Stored],
            compute: Callable[[], Stored]) -> tuple[Stored, bool]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / name
    if path.exists():
        entry = _load(path, device, kind)
        if entry is not None:
            return entry, True
    entry = compute()
    _save_atomically(entry, path)
    return entry, False


def cached_features(cache_dir: Path, key: str, device: torch.device,
                    compute: Callable[[], RunFeatures]) -> tuple[RunFeatures, bool]:
    """The features under ``key``, computing and storing them on a miss; also says whether it was a hit."""
    return _cached(cache_dir, f"{key}.pt", device, RunFeatures, compute)


def cached_bank(cache_dir: Path, key: str, device: torch.device,
                compute: Callable[[], SyntheticBank]) -> tuple[SyntheticBank, bool]:
    """The synthetic bank under ``key`` (from :func:`bank_key`), built and stored on a miss."""
    return _cached(cache_dir, f"bank-{key}.pt", device, SyntheticBank, compute)
