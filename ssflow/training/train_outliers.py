"""Likely defects among the "good" training images: images the fitted model itself scores far above the rest.

A defective image mixed into ``train/good`` is learned as normal, yet a flow
fitted on mostly good images still scores it higher than its good neighbours.
After fitting, every training image is scored (the maximum over its tiles in
tiled mode) and its modified z-score ``0.6745 (s - median) / MAD`` computed
(Iglewicz & Hoaglin, "How to Detect and Handle Outliers", 1993, whose cut is
3.5): images above :data:`OUTLIER_Z` are reported, and ``--drop-outliers``
trains again without them. Only high scores count: a training image scored
lower than the rest is no defect.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from ssflow.settings.config import MapConfig
from ssflow.datasets.prepared import PreparedData
from ssflow.evaluation.evaluate import score_features
from ssflow.model.flow import MultiScaleFlow

OUTLIER_Z = 3.5
MIN_IMAGES = 8  # below this the median and MAD say little: nothing is reported
TILE_MARK = "#tile-"  # how a tiled training row names its image (ssflow.datasets.prepared.PreparedData.train_paths)


class TrainOutlier(NamedTuple):
    path: str
    score: float  # the image score the fitted model gives it
    robust_z: float  # modified z-score among the training images


def modified_z(scores: np.ndarray) -> np.ndarray:
    """``0.6745 (s - median) / MAD`` per score (N,) float; zeros when the MAD is 0 (all scores alike)."""
    scores = np.asarray(scores, dtype=np.float64)
    median = np.median(scores)
    mad = np.median(np.abs(scores - median))
    if mad == 0 or not np.isfinite(mad):
        return np.zeros_like(scores)
    return 0.6745 * (scores - median) / mad


def image_scores(flow: MultiScaleFlow, train_features: Sequence[torch.Tensor], data: PreparedData,
                 map_config: MapConfig) -> tuple[list[str], np.ndarray]:
    """Each training image's path and score (N,) float64: rows of one image (tiles) take their maximum."""
    _, row_scores = score_features(flow, train_features, data.train.shape[1], map_config)
    images = [path.split(TILE_MARK, 1)[0] for path in data.train_paths]
    frame = pd.DataFrame({"path": images, "score": row_scores.astype(np.float64)})
    per_image = frame.groupby("path", sort=False)["score"].max()
    return list(per_image.index), per_image.to_numpy()


def find_outliers(paths: Sequence[str], scores: np.ndarray, cut: float = OUTLIER_Z) -> list[TrainOutlier]:
    """Training images whose modified z-score exceeds ``cut``, highest first; none below :data:`MIN_IMAGES`."""
    if len(paths) < MIN_IMAGES:
        return []
    z = modified_z(scores)
    found = [TrainOutlier(path, float(score), float(value)) for path, score, value in zip(paths, scores, z)
             if value > cut]
    return sorted(found, key=lambda outlier: -outlier.robust_z)


def without_images(data: PreparedData, paths: Sequence[str]) -> PreparedData:
    """``data`` less the training rows (tiles included) of ``paths``.

    Raises ``ValueError`` when that would leave no training image.
    """
    dropped = set(paths)
    keep = np.array([path.split(TILE_MARK, 1)[0] not in dropped for path in data.train_paths], dtype=bool)
    if not keep.any():
        raise ValueError("dropping the outliers would leave no training image")
    kept_images = len({path.split(TILE_MARK, 1)[0] for path, kept in zip(data.train_paths, keep) if kept})
    return dataclasses.replace(data, train=data.train[keep],
                               train_paths=tuple(p for p, kept in zip(data.train_paths, keep) if kept),
                               train_images=kept_images if data.train_images else 0)
