"""Scoring a split with a trained flow: maps, image scores and the three metrics."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from ssflow.anomaly_map import anomaly_maps, image_scores
from ssflow.config import MapConfig
from ssflow.data import SplitData
from ssflow.flow import MultiScaleFlow
from ssflow.metrics import image_auroc, pixel_metrics


class SplitMetrics(NamedTuple):
    image_auroc: float
    pixel_auroc: float
    aupro: float

    @property
    def objective(self) -> float:
        """The search objective: mean of image AUROC (detection) and AUPRO (localisation)."""
        return 0.5 * (self.image_auroc + self.aupro)


class Evaluation(NamedTuple):
    metrics: SplitMetrics
    scores: np.ndarray  # (N,) image scores
    maps: np.ndarray  # (N, S, S) float32 anomaly maps


@torch.no_grad()
def score_features(flow: MultiScaleFlow, features: Sequence[torch.Tensor], image_size: int,
                   config: MapConfig, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Maps (N, S, S) and image scores (N,) from per-level features (N, C_l, H_l, W_l)."""
    flow.eval()
    maps, scores = [], []
    for start in range(0, features[0].shape[0], batch_size):
        batch = [level[start:start + batch_size] for level in features]
        batch_maps = anomaly_maps(flow(batch), image_size, config)
        maps.append(batch_maps.float().cpu())
        scores.append(image_scores(batch_maps, config).float().cpu())
    return torch.cat(maps).numpy(), torch.cat(scores).numpy()


def split_metrics(scores: np.ndarray, maps: np.ndarray, split: SplitData) -> SplitMetrics:
    pixel_auroc, aupro = pixel_metrics(maps, split.masks)
    return SplitMetrics(image_auroc=image_auroc(scores, split.labels), pixel_auroc=pixel_auroc, aupro=aupro)


def evaluate(flow: MultiScaleFlow, features: Sequence[torch.Tensor], split: SplitData,
             config: MapConfig) -> Evaluation:
    """Score ``split`` (whose backbone ``features`` are given) and compute its metrics."""
    maps, scores = score_features(flow, features, split.images.shape[1], config)
    return Evaluation(split_metrics(scores, maps, split), scores, maps)
