"""Everything a run needs before ``fit``: the backbone, clean features and the synthetic bank.

One function, :func:`prepare_run`, used by the search's trials, ``train`` and
the benchmarks alike, so they all train on the same inputs. With a
:class:`CacheSpec` the clean features (and, when allowed, the synthetic bank)
are read from or written to a folder shared by the runs of a node; the keys
come from the spec (computed where the data was prepared), so this reads no
dataset path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from ssflow.model.backbone import FeatureExtractor, configured_backbone
from ssflow.model.backbone_weights import weights_identity
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData
from ssflow.training.feature_cache import (
    DataIdentity,
    bank_key,
    cache_key,
    cached_bank,
    cached_features,
    cached_views,
    data_identity,
    views_key,
)
from ssflow.training.run_features import RunFeatures, compute_run_features
from ssflow.training.photometric_views import PhotometricViews, build_photometric_views
from ssflow.training.synthetic_bank import SyntheticBank, build_synthetic_bank


@dataclass(frozen=True)
class CacheSpec:
    """Where and under which identity a run's backbone outputs are cached."""

    folder: str  # shared by the runs of a node; created on first use
    data: DataIdentity  # from ssflow.training.feature_cache.data_identity, on the machine that prepared the data
    weights_id: str  # from ssflow.model.backbone.weights_identity
    share_bank: bool = True  # False: the bank stays in memory (every run would build a different one)


class RunInputs(NamedTuple):
    backbone: FeatureExtractor
    features: RunFeatures
    bank: SyntheticBank | None  # None when the config trains on fresh synthetic samples
    features_computed: bool = True  # the backbone ran over the clean images here (False: read from the cache)
    views: PhotometricViews | None = None  # None when the config trains without photometric augmentation


def cache_spec(folder: str | Path, config: SSFlowConfig, data: PreparedData, share_bank: bool = True) -> CacheSpec:
    """A :class:`CacheSpec` for ``data``: hashes its pixels and the backbone weights (reads the weights file once)."""
    return CacheSpec(str(folder), data_identity(data), weights_identity(config.backbone.name, config.backbone.weights),
                     share_bank)


def prepare_run(config: SSFlowConfig, data: PreparedData, device: torch.device,
                cache: CacheSpec | None = None) -> RunInputs:
    """The frozen backbone, the clean features of ``data``, and the synthetic bank and photometric views
    ``config`` asks for.

    Without ``cache`` everything is computed; with it, features, views and bank
    come from ``cache.folder`` when present there and are stored on a miss
    (the bank only where ``cache.share_bank``). Raises ``UserInputError`` for
    a backbone or weights file that cannot be loaded.
    """
    backbone = configured_backbone(config, device)
    folder = Path(cache.folder) if cache is not None else None

    def clean() -> RunFeatures:
        return compute_run_features(backbone, data, device)

    def bank() -> SyntheticBank:
        return build_synthetic_bank(backbone, data, config, device)

    def views() -> PhotometricViews:
        return build_photometric_views(backbone, data.train, config, device)

    if folder is None:
        features, hit = clean(), False
    else:
        features, hit = cached_features(folder, cache_key(config, cache.data, cache.weights_id), device, clean)
    relit = None
    if config.train.photometric:
        relit = views() if folder is None else \
            cached_views(folder, views_key(config, cache.data, cache.weights_id), device, views)[0]
    synthetic = None
    if config.synthesis.bank_rounds:
        synthetic = bank() if folder is None or not cache.share_bank else \
            cached_bank(folder, bank_key(config, cache.data, cache.weights_id), device, bank)[0]
    return RunInputs(backbone, features, synthetic, not hit, relit)
