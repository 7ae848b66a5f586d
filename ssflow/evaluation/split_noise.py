"""How much of a selection objective is the luck of which images the selection split holds.

A selection split of a few dozen images ranks configs with noise of its own:
another draw of its images would rank them differently, and a search that
keeps the best of many trials picks up that luck (carpet on demo-hard: a config
ahead by 0.04 on the selection split was behind by 0.06 image AUROC on the report split).
The standard answer is a paired bootstrap over the images (Efron & Tibshirani,
"An Introduction to the Bootstrap", 1993, ch. 16; for AUROC differences, as
pROC's ``roc.test(method="bootstrap")``): resample the split's images with
replacement, normal and anomalous images separately (stratified), recompute the
objective on each resample, and read the spread of the difference of two
configs' replicates. Every trial resamples with the same seeded weights, so the
replicates of two trials on the same split pair image for image, and their
difference's standard deviation is the split noise of that comparison.

The image AUROC of a resample is the weighted Mann-Whitney statistic. AUPRO is
computed on a fixed grid of :data:`GRID_POINTS` thresholds (quantiles of the
normal pixels' scores up to 1.5x the FPR limit), so a replicate is a few matrix
products: the grid changes the value by about 1e-3, and only differences
between replicates are read.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ssflow.errors import UserInputError
from ssflow.evaluation.metrics import MVTEC_AD2_FPR_LIMIT, MVTEC_AD_FPR_LIMIT, area_up_to

REPLICATES = 200  # resamples per trial: the standard error of a standard deviation from 200 is about 5 %
RESAMPLING_SEED = 20_240_601  # fixed for every trial, so replicates pair across trials
GRID_POINTS = 128
FPR_LIMITS = {"aupro": MVTEC_AD_FPR_LIMIT, "aupro_05": MVTEC_AD2_FPR_LIMIT}


def resampling_weights(labels: np.ndarray, replicates: int = REPLICATES, seed: int = RESAMPLING_SEED) -> np.ndarray:
    """Stratified bootstrap weights: (replicates, N) int64, how often each image is drawn in each resample.

    Normal (label 0) and anomalous (label 1) images are each drawn with
    replacement as many times as the split holds them, so every resample keeps
    the split's class counts. The same ``labels`` and ``seed`` give the same
    weights. Raises ``UserInputError`` when a class is missing.
    """
    labels = np.asarray(labels).astype(bool)
    if labels.ndim != 1 or labels.all() or not labels.any():
        raise UserInputError("split noise: labels must be (N,) with normal and anomalous images both present")
    rng = np.random.default_rng(seed)
    weights = np.zeros((replicates, labels.size), dtype=np.int64)
    for members in (np.flatnonzero(~labels), np.flatnonzero(labels)):
        draws = rng.integers(0, members.size, size=(replicates, members.size))
        for row, drawn in enumerate(draws):
            np.add.at(weights[row], members[drawn], 1)
    return weights


def image_auroc_replicates(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Image AUROC of every resample: (R,) float64 from scores (N,), labels (N,) and weights (R, N).

    The weighted Mann-Whitney statistic: each (anomalous, normal) pair counts
    with the product of the two images' weights; a tie counts one half.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    positive, negative = scores[labels], scores[~labels]
    wins = (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative[None, :])
    positive_weights, negative_weights = weights[:, labels], weights[:, ~labels]
    paired = np.einsum("rp,pn,rn->r", positive_weights, wins, negative_weights)
    return paired / (positive_weights.sum(axis=1) * negative_weights.sum(axis=1))


def aupro_replicates(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray],
                     weights: np.ndarray, fpr_limit: float = MVTEC_AD_FPR_LIMIT) -> np.ndarray:
    """AUPRO up to ``fpr_limit`` of every resample: (R,) float64.

    ``maps``/``masks``: N maps (H_i, W_i) float and masks of the same sizes
    (1 = defect), an (N, H, W) array or a sequence; ``weights`` (R, N) as
    :func:`resampling_weights`. Regions are each mask's 8-connected components
    (the MVTec-AD protocol, :mod:`ssflow.evaluation.metrics`); a region counts
    with its image's weight, a normal pixel's false positive too.
    """
    normal_scores = [np.asarray(m, dtype=np.float64)[np.asarray(k) == 0] for m, k in zip(maps, masks)]
    thresholds = _threshold_grid(np.concatenate(normal_scores), fpr_limit)
    false_positives = np.stack([_count_at_least(scores, thresholds) for scores in normal_scores])  # (N, T)
    normal_counts = np.array([scores.size for scores in normal_scores], dtype=np.float64)
    overlaps, owners = _region_overlaps(maps, masks, thresholds)
    if not owners.size:
        raise UserInputError("split noise: AUPRO needs at least one defect region in the masks")
    weights = weights.astype(np.float64)
    fpr = (weights @ false_positives) / (weights @ normal_counts)[:, None]
    region_weights = weights[:, owners]
    pro = (region_weights @ overlaps) / region_weights.sum(axis=1, keepdims=True)
    return np.array([area_up_to(x, y, fpr_limit) / fpr_limit for x, y in zip(fpr, pro)])


def objective_replicates(scores: np.ndarray, labels: np.ndarray, maps: np.ndarray | Sequence[np.ndarray] | None,
                         masks: np.ndarray | Sequence[np.ndarray] | None, localization: str = "aupro",
                         replicates: int = REPLICATES) -> np.ndarray:
    """Bootstrap replicates (replicates,) float32 of a split's objective, (image AUROC + localisation) / 2.

    ``localization``: ``aupro`` (FPR 0.3) or ``aupro_05`` (FPR 0.05), as
    ``validation.localization``; image AUROC alone without masks (``maps`` or
    ``masks`` None, or no defect pixel), as :class:`ssflow.evaluation.evaluate.SplitMetrics`.
    """
    if localization not in FPR_LIMITS:
        raise UserInputError(f"split noise: localization {localization!r}, expected one of {', '.join(FPR_LIMITS)}")
    weights = resampling_weights(labels, replicates)
    detection = image_auroc_replicates(scores, labels, weights)
    if maps is None or masks is None or not any(np.any(np.asarray(mask)) for mask in masks):
        return detection.astype(np.float32)
    localisation = aupro_replicates(maps, masks, weights, FPR_LIMITS[localization])
    return (0.5 * (detection + localisation)).astype(np.float32)


def paired_noise(first: np.ndarray, second: np.ndarray) -> float:
    """Standard deviation of the paired difference of two replicate vectors (R,): the split noise of
    comparing two configs scored on the same split. Raises ``ValueError`` when their lengths differ."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1 or first.size < 2:
        raise ValueError(f"paired replicates must be two equal (R,) vectors, R >= 2; got {first.shape}, "
                         f"{second.shape}")
    return float(np.std(first - second, ddof=1))


def _threshold_grid(normal_scores: np.ndarray, fpr_limit: float) -> np.ndarray:
    """Descending thresholds whose pooled FPR runs from 0 to 1.5x ``fpr_limit`` (capped at 1)."""
    levels = np.linspace(0.0, min(1.0, 1.5 * fpr_limit), GRID_POINTS)
    inner = np.quantile(normal_scores, 1.0 - levels[1:])
    return np.concatenate([[np.inf], inner])  # +inf: nothing predicted, the curve's (0, 0)


def _count_at_least(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    return (ordered.size - np.searchsorted(ordered, thresholds, side="left")).astype(np.float64)


def _region_overlaps(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray],
                     thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per region: the share of its pixels at or above each threshold (regions, T), and its image index."""
    overlaps, owners = [], []
    structure = np.ones((3, 3), dtype=bool)
    for index, (image_map, mask) in enumerate(zip(maps, masks)):
        regions, count = ndimage.label(np.asarray(mask) > 0, structure=structure)
        image_map = np.asarray(image_map, dtype=np.float64)
        for region in range(1, count + 1):
            pixels = image_map[regions == region]
            overlaps.append(_count_at_least(pixels, thresholds) / pixels.size)
            owners.append(index)
    width = thresholds.size
    return (np.stack(overlaps) if overlaps else np.zeros((0, width))), np.array(owners, dtype=np.int64)
