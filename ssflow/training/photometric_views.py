"""Lighting-augmented views of the training images, through the backbone once per run.

Augmenting every image afresh each epoch would send it through the frozen
backbone every epoch, as fresh synthesis did before the synthetic bank. With
``train.photometric > 0`` a run instead makes ``train.photometric_views = V``
relit copies of every training image (:mod:`ssflow.datasets.photometric`, seeded,
from a stream of its own), runs the backbone over them once, and every epoch
trains each image on one of its V + 1 versions (the clean one included),
drawn uniformly: training costs what it did, the backbone pass grows by V
times the training set once, and the views are cached like the clean features
(:mod:`ssflow.training.feature_cache`, keyed by the strength, V and the seed).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ssflow.settings.config import SSFlowConfig
from ssflow.model.features import extract_features
from ssflow.datasets.photometric import augment

_VIEWS_STREAM = 0x11647  # its own stream: the views depend on the seed alone
_CHUNK = 32  # images relit at a time, so only a chunk of relit pixels is held


class PhotometricViews(NamedTuple):
    """View-major: row ``v * images + i`` holds view v of training image i."""

    features: list[torch.Tensor]  # per level, (views * images, C_l, H_l, W_l) float32
    images: int  # training images (rows of the run's training features)

    @property
    def views(self) -> int:
        return self.features[0].shape[0] // self.images if self.features and self.images else 0


def build_photometric_views(backbone: nn.Module, train: np.ndarray, config: SSFlowConfig,
                            device: torch.device) -> PhotometricViews:
    """``config.train.photometric_views`` relit views of every image of ``train`` (N, S, S, 3) uint8.

    Raises ``ValueError`` when ``config.train.photometric`` is 0 (nothing to augment).
    """
    strength, views = config.train.photometric, config.train.photometric_views
    if strength <= 0:
        raise ValueError("train.photometric is 0: a run without photometric augmentation has no views")
    rng = np.random.default_rng([config.seed, _VIEWS_STREAM])
    count = len(train)
    features: list[torch.Tensor] | None = None
    for view in range(views):
        for start in range(0, count, _CHUNK):
            relit = augment(train[start:start + _CHUNK], strength, rng)
            if features is None:
                first = extract_features(backbone, relit[:1], device)
                features = [torch.empty((views * count, *level.shape[1:]), dtype=level.dtype, device=level.device)
                            for level in first]
            extract_features(backbone, relit, device, out=features, offset=view * count + start)
    return PhotometricViews(features or [], count)


class ViewPool:
    """The clean training features and their views as one table per level, to draw a version per image."""

    def __init__(self, clean: list[torch.Tensor], views: PhotometricViews | None) -> None:
        self.images = clean[0].shape[0] if clean else 0
        self.versions = 1 + (views.views if views is not None else 0)
        self.levels = clean if views is None else [torch.cat([c, v]) for c, v in zip(clean, views.features)]

    def batch(self, index: np.ndarray, rng: np.random.Generator) -> list[torch.Tensor]:
        """Per level, the features of a version of every image of ``index``, drawn uniformly (clean included).

        Draws nothing from ``rng`` without views, so a run without augmentation trains as before.
        """
        rows = np.asarray(index)
        if self.versions > 1:
            rows = rows + rng.integers(self.versions, size=len(rows)) * self.images
        torch_rows = torch.from_numpy(rows).to(self.levels[0].device)
        return [level.index_select(0, torch_rows) for level in self.levels]
