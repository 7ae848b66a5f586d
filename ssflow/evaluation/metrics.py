"""Evaluation metrics: image AUROC, pixel AUROC and AUPRO, on numpy arrays.

AUROC is computed exactly by counting pairs (Mann-Whitney U), so a tie
between a normal and an anomalous score counts one half. AUPRO follows the
MVTec-AD protocol (Bergmann et al., "The MVTec Anomaly Detection Dataset",
IJCV 2021): ground-truth regions are the 8-connected components of each mask;
the per-region overlap (PRO) is averaged over all regions; the PRO curve is
integrated over the false-positive rate from 0 to ``fpr_limit`` and divided by
``fpr_limit``. MVTec AD 2 (Heckler-Kram et al., arXiv:2503.21622, 2025) reports the
same curve up to FPR 0.05 (its AucPro_0.05, ``aupro_05`` here): the operating
range of an inspection line, where a false alarm stops it.

Every function validates its inputs and raises
:class:`~ssflow.errors.UserInputError` with one line on misuse.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from scipy import ndimage

from ssflow.errors import UserInputError
from ssflow.evaluation.metric_inputs import checked_pair, checked_ragged, raveled

# 3x3 ones inside each image, nothing across images: MVTec's reference labels
# each mask with scipy.ndimage.label and this 8-connectivity structure.
_REGION_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_REGION_STRUCTURE[1] = True

MVTEC_AD_FPR_LIMIT = 0.3  # MVTec AD's AUPRO
MVTEC_AD2_FPR_LIMIT = 0.05  # MVTec AD 2's AucPro_0.05


class PixelMetrics(NamedTuple):
    """The pixel metrics of a set of maps, from one sort of their pixels (:func:`pixel_metric_set`)."""

    pixel_auroc: float
    aupro: float  # normalised area under the PRO curve up to FPR 0.3 (MVTec AD)
    aupro_05: float  # the same up to FPR 0.05 (MVTec AD 2's AucPro_0.05)


def image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of image scores.

    Args:
        scores: (N,) anomaly score per image, higher = more anomalous.
        labels: (N,) 1 (or True) for anomalous images, 0 for normal ones.

    Returns:
        AUROC in [0, 1]; tied scores of a normal and an anomalous image count 1/2.
    """
    scores, labels = checked_pair(scores, "scores", labels, "labels", ndim=1)
    return _auroc(scores, labels)


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """Area under the ROC curve over all pixels of all images.

    Args:
        maps: (N, H, W) anomaly map, higher = more anomalous.
        masks: (N, H, W) ground truth, 1 (or True) for anomalous pixels.
    """
    maps, masks = checked_pair(maps, "maps", masks, "masks", ndim=3)
    return _auroc(maps.ravel(), masks.ravel())


class _PixelCounts(NamedTuple):
    """Cumulative counts at each threshold of a descending sweep over the distinct pixel scores.

    Every array is (T + 1,) and starts at 0 (nothing predicted).
    """

    false_positives: np.ndarray  # normal pixels predicted anomalous
    true_positives: np.ndarray  # anomalous pixels predicted anomalous
    overlap: np.ndarray  # sum over regions of |region and predicted| / |region|
    normal_count: int
    region_count: int


def _labelled(masks: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Region labels of every pixel, raveled, and the region count; regions never span two images."""
    if isinstance(masks, np.ndarray):
        regions, count = ndimage.label(masks, structure=_REGION_STRUCTURE)
        return regions.ravel(), int(count)
    parts, total = [], 0
    for mask in masks:
        regions, count = ndimage.label(mask, structure=_REGION_STRUCTURE[1])
        parts.append(np.where(regions > 0, regions + total, 0).ravel())
        total += int(count)
    return np.concatenate(parts), total


def _pixel_counts(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray]
                  ) -> _PixelCounts:
    """One sort of all N*H*W pixels; the ROC curve and the PRO curve both read from it."""
    regions, region_count = _labelled(masks)
    maps = raveled(maps)
    normal_count = int(regions.size - np.count_nonzero(regions))

    # Each pixel of region r adds 1 / |r| to that region's overlap once it is
    # predicted; normal pixels add to the false positives instead. Summing in
    # descending score order gives every threshold's totals at once.
    inverse_size = np.zeros(region_count + 1)
    inverse_size[1:] = 1.0 / np.bincount(regions, minlength=region_count + 1)[1:]
    # Sorting the negated scores gives descending order with contiguous
    # indices (a reversed argsort makes every gather below much slower).
    order = np.argsort(-maps)
    sorted_scores = maps[order]
    sorted_regions = regions[order]
    is_normal = sorted_regions == 0
    # The last pixel of each group of equal scores closes one threshold.
    group_ends = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))

    def at_thresholds(cumulative: np.ndarray) -> np.ndarray:
        return np.concatenate([[0], cumulative[group_ends]])

    return _PixelCounts(
        false_positives=at_thresholds(np.cumsum(is_normal, dtype=np.int64)),
        true_positives=at_thresholds(np.cumsum(~is_normal, dtype=np.int64)),
        overlap=at_thresholds(np.cumsum(inverse_size[sorted_regions])),
        normal_count=normal_count,
        region_count=region_count,
    )


def pro_curve(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-region-overlap curve of the MVTec-AD protocol, one point per distinct score.

    A pixel is predicted anomalous at threshold t when its score is >= t; t
    sweeps the distinct scores from the highest down, so equal scores enter
    the prediction together (one step of the curve). The cost is one sort of
    all N*H*W pixels.

    Args:
        maps: (N, H, W) anomaly map, higher = more anomalous.
        masks: (N, H, W) ground truth, 1 (or True) for anomalous pixels.

    Returns:
        ``(fpr, pro)``, both (T + 1,), starting at (0, 0) (nothing predicted)
        and ending at (1, 1) (everything predicted); ``fpr`` is non-decreasing.
        FPR = false-positive pixels / all normal pixels; PRO = mean over all
        regions of |region and predicted| / |region|.
    """
    maps, masks = checked_pair(maps, "maps", masks, "masks", ndim=3)
    return _pro_from_counts(_pixel_counts(maps, masks))


def _pro_from_counts(counts: _PixelCounts) -> tuple[np.ndarray, np.ndarray]:
    fpr = counts.false_positives / counts.normal_count
    # Summation rounding may land a hair above 1 at the end of the curve.
    return fpr, np.clip(counts.overlap / counts.region_count, 0.0, 1.0)


def pixel_metrics(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray],
                  fpr_limit: float = MVTEC_AD_FPR_LIMIT) -> tuple[float, float]:
    """``(pixel_auroc(maps, masks), aupro(maps, masks, fpr_limit))`` from a single sort of the pixels.

    Both metrics sweep the same descending thresholds; computing them together
    halves the cost of scoring a split, which runs after every epoch. ``maps``
    and ``masks`` are (N, H, W) arrays, or sequences of N (H_i, W_i) arrays for
    images of different sizes (each mask the size of its map).
    """
    roc_area, (pro_area,) = _roc_and_pro_areas(maps, masks, (fpr_limit,))
    return roc_area, pro_area


def pixel_metric_set(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray]
                     ) -> PixelMetrics:
    """Pixel AUROC, AUPRO up to FPR 0.3 (MVTec AD) and up to FPR 0.05 (MVTec AD 2), from one sort of the pixels.

    ``maps`` and ``masks`` as in :func:`pixel_metrics`; raises ``UserInputError`` as it does.
    """
    roc_area, (aupro_30, aupro_05) = _roc_and_pro_areas(maps, masks, (MVTEC_AD_FPR_LIMIT, MVTEC_AD2_FPR_LIMIT))
    return PixelMetrics(roc_area, aupro_30, aupro_05)


def _roc_and_pro_areas(maps: np.ndarray | Sequence[np.ndarray], masks: np.ndarray | Sequence[np.ndarray],
                       fpr_limits: Sequence[float]) -> tuple[float, list[float]]:
    for fpr_limit in fpr_limits:
        if not 0.0 < fpr_limit <= 1.0:
            raise UserInputError(
                f"aupro: fpr_limit={fpr_limit!r}, expected a number in (0, 1]; the MVTec-AD value is 0.3"
            )
    if isinstance(maps, np.ndarray) and isinstance(masks, np.ndarray):
        maps, masks = checked_pair(maps, "maps", masks, "masks", ndim=3)
    else:
        maps, masks = checked_ragged(maps, masks)
    counts = _pixel_counts(maps, masks)
    # The trapezoid rule over the ROC points, in integers: a tie between a
    # normal and an anomalous pixel counts one half, as in _auroc.
    fp, tp = counts.false_positives, counts.true_positives
    wins_twice = int(np.sum(np.diff(fp) * (tp[1:] + tp[:-1])))
    anomalous_count = int(tp[-1])
    roc_area = wins_twice / (2.0 * anomalous_count * counts.normal_count)
    fpr, pro = _pro_from_counts(counts)
    return roc_area, [float(area_up_to(fpr, pro, limit) / limit) for limit in fpr_limits]


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = MVTEC_AD_FPR_LIMIT) -> float:
    """Normalised area under the PRO curve up to ``fpr_limit`` (MVTec-AD protocol).

    The curve of :func:`pro_curve` is integrated with the trapezoid rule from
    FPR 0 to ``fpr_limit``, interpolated linearly at exactly ``fpr_limit``,
    and divided by ``fpr_limit``, so a perfect map scores 1.0. A constant map
    (one threshold: nothing or everything predicted) gives the straight line
    from (0, 0) to (1, 1) and scores ``fpr_limit / 2``.

    Args:
        maps: (N, H, W) anomaly map, higher = more anomalous.
        masks: (N, H, W) ground truth, 1 (or True) for anomalous pixels.
        fpr_limit: upper end of the FPR integration range, in (0, 1]: 0.3 for MVTec AD's AUPRO,
            0.05 for MVTec AD 2's AucPro_0.05.
    """
    return pixel_metrics(maps, masks, fpr_limit)[1]


def area_up_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under y(x) for x in [x[0], limit]; ``x`` non-decreasing, x[0] <= limit <= x[-1]."""
    inside = int(np.searchsorted(x, limit, side="right"))
    area = float(np.trapezoid(y[:inside], x[:inside]))
    last_x, last_y = x[inside - 1], y[inside - 1]
    if inside < len(x) and last_x < limit:
        # x[inside] > limit > last_x here, so the slope is finite.
        y_limit = last_y + (y[inside] - last_y) * (limit - last_x) / (x[inside] - last_x)
        area += 0.5 * (last_y + y_limit) * (limit - last_x)
    return area


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Exact AUROC = P(score_pos > score_neg) + 0.5 P(score_pos == score_neg) (Mann-Whitney U)."""
    order = np.argsort(scores)
    sorted_scores = scores[order]
    sorted_positive = positive[order]
    group_starts = np.flatnonzero(np.append(True, sorted_scores[1:] != sorted_scores[:-1]))
    positives = np.add.reduceat(sorted_positive.astype(np.int64), group_starts)
    negatives = np.diff(np.append(group_starts, scores.size)) - positives
    negatives_below = np.cumsum(negatives) - negatives
    # Counts are integers; doubling keeps the half-weights of ties exact.
    wins_twice = int(np.sum(positives * (2 * negatives_below + negatives)))
    return wins_twice / (2.0 * int(positives.sum()) * int(negatives.sum()))
