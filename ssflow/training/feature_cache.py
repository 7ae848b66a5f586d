"""Backbone features of a run's clean images (and its synthetic bank), computed once and shared.

Every trial of a category runs the same frozen backbone over the same clean
training and test images; only the flow differs. The features are stored
under a key that hashes everything they depend on, in one layout shared by
every feature an entry may hold:

- ``format``: this module's format version;
- ``backbone``, ``weights`` (the weights' digest), ``levels``, ``image_size``;
- ``inputs``: how images became model inputs (``data.tile_size``,
  ``tile_overlap``, ``scale``, ``keep_aspect``, ``normalize``), a view of an
  image being other features than its file's;
- ``data``: digests of the pixels of every model input of the run
  (:func:`data_identity`, computed where the data is prepared, so a trial never
  looks at a dataset path);
- for a synthetic bank, also the synthesis settings, the photometric strength
  and the seed;
- for photometric views (:mod:`ssflow.training.photometric_views`: relit copies of the
  training images, another image than the file), the strength, the number
  of views and the seed.

A changed input is a new key and a stale entry is never read.

Writers put a ``.``-prefixed temporary file beside the entry and rename it into
place, so no reader ever sees half a file; and an entry is computed under an
exclusive lock of its own (``flock`` on a ``.<entry>.lock`` file beside it), so
trials of one node that start together wait for the first one's features
instead of all running the backbone: one feature pass per entry and node.

A synthetic bank (:mod:`ssflow.training.synthetic_bank`) is stored the same way under
a key of the training images, the backbone, the synthesis settings, the number
of rounds and the seed (the test images do not shape it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import pickle
import uuid
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, TypeVar

import numpy as np
import torch

from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData
from ssflow.training.run_features import RunFeatures
from ssflow.training.photometric_views import PhotometricViews
from ssflow.training.synthetic_bank import SyntheticBank

Stored = TypeVar("Stored", RunFeatures, SyntheticBank, PhotometricViews)

FORMAT_VERSION = 4  # 4: input normalisation in the key; photometric views


class DataIdentity(NamedTuple):
    """Digests of a run's pixels: what the cached features of its data depend on."""

    train: str  # the normal training images
    evaluation: str  # the selection, report and synthetic validation images


def _pixels_digest(*arrays: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(repr((array.shape, str(array.dtype))).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def data_identity(data: PreparedData) -> DataIdentity:
    """The digest of every image array of ``data`` (about 30 ms per 100 MB); reads no file."""
    evaluation = [data.selection.images, data.report.images]
    if data.validation is not None:
        evaluation.append(data.validation.images)
    return DataIdentity(train=_pixels_digest(data.train), evaluation=_pixels_digest(*evaluation))


def _backbone(config: SSFlowConfig, weights_id: str) -> dict[str, object]:
    """What decides a backbone output besides the pixels: the network and its weights, the levels, and how
    images became its inputs (size, tiles, scale, aspect). The pixel digests cover the inputs too; naming the
    input settings keeps keys apart even where two settings give the same pixels."""
    data = config.data
    return {"format": FORMAT_VERSION, "backbone": config.backbone.name, "weights": weights_id,
            "levels": list(config.backbone.levels), "image_size": config.backbone.image_size,
            "inputs": {"tile_size": data.tile_size, "tile_overlap": data.tile_overlap, "scale": data.scale,
                       "keep_aspect": data.keep_aspect, "normalize": data.normalize}}


def cache_key(config: SSFlowConfig, data: DataIdentity, weights_id: str) -> str:
    """A digest of every input the clean features depend on (``weights_id``: ``backbone.weights_identity``)."""
    return _digest({**_backbone(config, weights_id), "data": list(data)})


def bank_key(config: SSFlowConfig, data: DataIdentity, weights_id: str) -> str:
    """A digest of every input a synthetic bank depends on: training images, backbone, synthesis settings, seed."""
    return _digest({**_backbone(config, weights_id), "train": data.train,
                    "synthesis": dataclasses.asdict(config.synthesis), "photometric": config.train.photometric,
                    "seed": config.seed})


def views_key(config: SSFlowConfig, data: DataIdentity, weights_id: str) -> str:
    """A digest of every input photometric views depend on: training images, backbone, strength, views, seed."""
    return _digest({**_backbone(config, weights_id), "train": data.train, "photometric": config.train.photometric,
                    "views": config.train.photometric_views, "seed": config.seed})


def _digest(description: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _to_cpu(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    return value


def _save_atomically(entry: RunFeatures | SyntheticBank | PhotometricViews, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save({name: _to_cpu(value) for name, value in entry._asdict().items()}, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _load(path: Path, device: torch.device, kind: type[Stored]) -> Stored | None:
    """The entry at ``path``; None (the file deleted, a warning logged) when it is damaged: recompute it."""
    try:
        stored = torch.load(path, map_location=device, weights_only=True)
        return kind(**{name: stored[name] for name in kind._fields})
    except (OSError, RuntimeError, KeyError, EOFError, TypeError, ValueError, pickle.UnpicklingError) as error:
        logging.getLogger(__name__).warning("feature cache entry %s is damaged (%s): deleted, recomputing it",
                                            path, type(error).__name__)
        path.unlink(missing_ok=True)
        return None


@contextlib.contextmanager
def _entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s lock file (created beside it) while computing the entry."""
    with open(path.with_name(f".{path.name}.lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached(cache_dir: Path, name: str, device: torch.device, kind: type[Stored],
            compute: Callable[[], Stored]) -> tuple[Stored, bool]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / name
    with _entry_lock(path):
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


def cached_views(cache_dir: Path, key: str, device: torch.device,
                 compute: Callable[[], PhotometricViews]) -> tuple[PhotometricViews, bool]:
    """The photometric views under ``key`` (from :func:`views_key`), built and stored on a miss."""
    return _cached(cache_dir, f"views-{key}.pt", device, PhotometricViews, compute)
