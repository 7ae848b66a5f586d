"""Scoring a split with a trained flow: maps, image scores and the three metrics."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from ssflow.model.anomaly_map import anomaly_maps, image_scores
from ssflow.settings.config import MapConfig
from ssflow.datasets.prepared import SplitData
from ssflow.model.flow import MultiScaleFlow
from ssflow.evaluation.metrics import image_auroc, pixel_metric_set
from ssflow_runtime.tiling import image_map, resized


class SplitMetrics(NamedTuple):
    """The metrics of one split; the pixel metrics are None when no anomalous image of it has a mask."""

    image_auroc: float
    pixel_auroc: float | None
    aupro: float | None  # up to FPR 0.3 (MVTec AD)
    aupro_05: float | None = None  # up to FPR 0.05 (MVTec AD 2's AucPro_0.05)

    @property
    def objective(self) -> float:
        """The search objective: mean of image AUROC (detection) and AUPRO (localisation).

        Image AUROC alone for a split without masks (an image-level-only category).
        """
        return self.objective_with("aupro")

    def objective_with(self, localization: str) -> float:
        """Mean of image AUROC and the localisation metric ``localization`` (``aupro`` or ``aupro_05``,
        ``validation.localization``); image AUROC alone where the split has no mask."""
        term = getattr(self, localization)
        if self.aupro is None or term is None:
            return self.image_auroc
        return 0.5 * (self.image_auroc + term)


class Evaluation(NamedTuple):
    metrics: SplitMetrics | None  # None when the split lacks normal or anomalous images
    scores: np.ndarray  # (N,) image scores
    maps: np.ndarray | tuple[np.ndarray, ...]  # per image float32, at the size of the split's masks


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


def stitched_maps(tile_maps: np.ndarray, split: SplitData, config: MapConfig
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Per image: the map stitched from its tiles' maps (T, s, s) at the size of its mask, and its score (N,).

    :func:`ssflow_runtime.tiling.image_map`, as ``predict`` reads it, so a calibrated
    threshold means the same there.
    """
    offsets = split.offsets
    maps, scores = [], np.empty(len(split), dtype=np.float32)
    for index, layout in enumerate(split.layouts):
        image, scores[index] = image_map(tile_maps[offsets[index]:offsets[index + 1]], layout,
                                         split.masks[index].shape, config.image_score, config.topk)
        maps.append(image)
    return tuple(maps), scores


def at_mask_size(maps: np.ndarray, split: SplitData) -> np.ndarray | tuple[np.ndarray, ...]:
    """Whole-image maps (N, s, s), one per image, resized (bilinear) to the size of each image's mask.

    For maps of methods that see each image whole (the baselines); ssflow's own
    maps are stitched to that size by :func:`stitched_maps`.
    """
    at_size = tuple(resized(one, *mask.shape) for one, mask in zip(maps, split.masks))
    return np.stack(at_size) if isinstance(split.masks, np.ndarray) else at_size


def check_health(maps: np.ndarray | Sequence[np.ndarray], scores: np.ndarray, split: str) -> None:
    """Raise :class:`UnhealthyMaps` naming ``split`` for non-finite maps or a constant image score.

    Checked before any metric: the metric code would reject NaN input with its
    own error, and a collapsed map ranks nothing.
    """
    if not all(np.isfinite(one).all() for one in maps):
        raise UnhealthyMaps(f"non-finite anomaly map on the {split} split")
    if len(scores) > 1 and np.ptp(scores) == 0:
        raise UnhealthyMaps(f"anomaly map collapsed to a constant on the {split} split")


def split_metrics(scores: np.ndarray, maps: np.ndarray | Sequence[np.ndarray], split: SplitData
                  ) -> SplitMetrics | None:
    """Image AUROC of ``scores`` (N,); pixel AUROC and AUPRO of ``maps`` (per image, the masks' sizes) where
    masks exist.

    None when the split does not hold both normal and anomalous images. The
    pixel metrics are computed over the images whose masks are ground truth
    (normal images, anomalous images with a mask); they are None when no
    anomalous image of the split has a mask, or its masks mark no pixel.
    """
    if not split.scorable:
        return None
    detection = image_auroc(scores, split.labels)
    known = split.mask_known
    masks, maps = _known(split.masks, known), _known(maps, known)
    if not any(mask.any() for mask in masks):
        return SplitMetrics(image_auroc=detection, pixel_auroc=None, aupro=None)
    pixel = pixel_metric_set(maps, masks)
    return SplitMetrics(detection, pixel.pixel_auroc, pixel.aupro, pixel.aupro_05)


def _known(arrays: np.ndarray | Sequence[np.ndarray], known: np.ndarray) -> np.ndarray | list[np.ndarray]:
    if known.all():
        return arrays
    if isinstance(arrays, np.ndarray):
        return arrays[known]
    return [array for array, keep in zip(arrays, known) if keep]


def evaluate(flow: MultiScaleFlow, features: Sequence[torch.Tensor], split: SplitData,
             config: MapConfig, name: str = "test") -> Evaluation:
    """Score ``split`` (whose backbone ``features`` are given) and compute its metrics.

    Raises :class:`UnhealthyMaps` (naming the split ``name``) before computing
    metrics from maps that are non-finite or constant.
    """
    maps, scores = score_features(flow, features, split.images.shape[1], config)
    if split.layouts is not None:
        maps, scores = stitched_maps(maps, split, config)
        if isinstance(split.masks, np.ndarray):  # one size for every image: keep the stacked form
            maps = np.stack(maps)
    check_health(maps, scores, name)
    return Evaluation(split_metrics(scores, maps, split), scores, maps)


def selection_objective(selection: SplitMetrics | None, validation: SplitMetrics | None,
                        synthetic_weight: float, localization: str = "aupro") -> float:
    """What a search maximises: ``(1 - w) * real + w * synthetic`` with ``w = synthetic_weight``.

    Each side is the mean of image AUROC and the localisation metric
    ``localization`` (``validation.localization``: ``aupro``, MVTec AD's FPR 0.3,
    or ``aupro_05``, MVTec AD 2's FPR 0.05).

    ``real`` is the selection split's objective, ``synthetic`` the synthetic
    validation set's (see :mod:`ssflow.datasets.validation_set`); a side with weight 0
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
        total += weight * metrics.objective_with(localization)
    return total
