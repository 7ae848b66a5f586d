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
    """The metrics of one split; the pixel metrics are None when no anomalous image of it has a mask."""

    image_auroc: float
    pixel_auroc: float | None
    aupro: float | None

    @property
    def objective(self) -> float:
        """The search objective: mean of image AUROC (detection) and AUPRO (localisation).

        Image AUROC alone for a split without masks (an image-level-only category).
        """
        if self.aupro is None:
            return self.image_auroc
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
    """Image AUROC of ``scores`` (N,); pixel AUROC and AUPRO of ``maps`` (N, S, S) where masks exist.

    The pixel metrics are computed over the images whose masks are ground
    truth (normal images, anomalous images with a mask); they are None when no
    anomalous image of the split has a mask, or its masks mark no pixel.
    """
    detection = image_auroc(scores, split.labels)
    known = split.mask_known
    masks = split.masks if known.all() else split.masks[known]
    if not masks.any():
        return SplitMetrics(image_auroc=detection, pixel_auroc=None, aupro=None)
    pixel_auroc, aupro = pixel_metrics(maps if known.all() else maps[known], masks)
    return SplitMetrics(image_auroc=detection, pixel_auroc=pixel_auroc, aupro=aupro)


def evaluate(flow: MultiScaleFlow, features: Sequence[torch.Tensor], split: SplitData,
             config: MapConfig) -> Evaluation:
    """Score ``split`` (whose backbone ``features`` are given) and compute its metrics."""
    maps, scores = score_features(flow, features, split.images.shape[1], config)
    return Evaluation(split_metrics(scores, maps, split), scores, maps)
