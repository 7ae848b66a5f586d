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
    metrics: SplitMetrics | None  # None when the split lacks normal or anomalous images
    scores: np.ndarray  # (N,) image scores
    maps: np.ndarray  # (N, S, S) float32 anomaly maps


class UnhealthyMaps(Exception):
    """Maps that no metric should be computed from: non-finite values, or one score for every image."""


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


def check_health(maps: np.ndarray, scores: np.ndarray, split: str) -> None:
    """Raise :class:`UnhealthyMaps` naming ``split`` for non-finite maps or a constant image score.

    Checked before any metric: the metric code would reject NaN input with its
    own error, and a collapsed map ranks nothing.
    """
    if not np.isfinite(maps).all():
        raise UnhealthyMaps(f"non-finite anomaly map on the {split} split")
    if len(scores) > 1 and np.ptp(scores) == 0:
        raise UnhealthyMaps(f"anomaly map collapsed to a constant on the {split} split")


def split_metrics(scores: np.ndarray, maps: np.ndarray, split: SplitData) -> SplitMetrics | None:
    """Image AUROC of ``scores`` (N,); pixel AUROC and AUPRO of ``maps`` (N, S, S) where masks exist.

    None when the split does not hold both normal and anomalous images. The
    pixel metrics are computed over the images whose masks are ground truth
    (normal images, anomalous images with a mask); they are None when no
    anomalous image of the split has a mask, or its masks mark no pixel.
    """
    if not split.scorable:
        return None
    detection = image_auroc(scores, split.labels)
    known = split.mask_known
    masks = split.masks if known.all() else split.masks[known]
    if not masks.any():
        return SplitMetrics(image_auroc=detection, pixel_auroc=None, aupro=None)
    pixel_auroc, aupro = pixel_metrics(maps if known.all() else maps[known], masks)
    return SplitMetrics(image_auroc=detection, pixel_auroc=pixel_auroc, aupro=aupro)


def evaluate(flow: MultiScaleFlow, features: Sequence[torch.Tensor], split: SplitData,
             config: MapConfig, name: str = "test") -> Evaluation:
    """Score ``split`` (whose backbone ``features`` are given) and compute its metrics.

    Raises :class:`UnhealthyMaps` (naming the split ``name``) before computing
    metrics from maps that are non-finite or constant.
    """
    maps, scores = score_features(flow, features, split.images.shape[1], config)
    check_health(maps, scores, name)
    return Evaluation(split_metrics(scores, maps, split), scores, maps)


def selection_objective(selection: SplitMetrics | None, validation: SplitMetrics | None,
                        synthetic_weight: float) -> float:
    """What a search maximises: ``(1 - w) * real + w * synthetic`` with ``w = synthetic_weight``.

    ``real`` is the selection split's objective, ``synthetic`` the synthetic
    validation set's (see :mod:`ssflow.validation_set`); a side with weight 0
    may be None. Raises ``ValueError`` when a side with a positive weight has
    no metrics.
    """
    parts = ((1.0 - synthetic_weight, selection, "selection split"), (synthetic_weight, validation,
                                                                       "synthetic validation set"))
    total = 0.0
    for weight, metrics, name in parts:
        if weight <= 0:
            continue
        if metrics is None:
            raise ValueError(f"the objective weighs the {name} by {weight:g}, but it has no metrics")
        total += weight * metrics.objective
    return total
