"""Split metrics with full, partial and no pixel ground truth."""

import numpy as np
import pytest

from ssflow.datasets.prepared import SplitData
from ssflow.evaluation.evaluate import SplitMetrics, split_metrics
from ssflow.evaluation.metrics import image_auroc, pixel_metrics


def _split(known: list[bool] | None) -> tuple[SplitData, np.ndarray, np.ndarray]:
    """4 images of 8x8: two normal, two anomalous with a defect in the top-left corner; maps that find it."""
    labels = np.array([0, 0, 1, 1])
    masks = np.zeros((4, 8, 8), bool)
    masks[2:, :3, :3] = True
    if known is not None:
        masks[~np.array(known)] = False  # an anomalous image without a mask file reads as all-False
    rng = np.random.default_rng(0)
    maps = rng.random((4, 8, 8)).astype(np.float32)
    maps[2:, :3, :3] += 0.8
    scores = maps.max(axis=(1, 2))
    split = SplitData(np.zeros((4, 8, 8, 3), np.uint8), masks, labels, ("a", "b", "c", "d"),
                      None if known is None else np.array(known))
    return split, scores, maps


def test_full_masks_give_every_metric_and_the_mean_objective() -> None:
    split, scores, maps = _split(None)
    metrics = split_metrics(scores, maps, split)
    assert (metrics.pixel_auroc, metrics.aupro) == pixel_metrics(maps, split.masks)
    assert metrics.objective == pytest.approx(0.5 * (metrics.image_auroc + metrics.aupro))


def test_no_masks_leave_pixel_metrics_absent_and_the_objective_image_auroc() -> None:
    split, scores, maps = _split([True, True, False, False])
    metrics = split_metrics(scores, maps, split)
    assert metrics.pixel_auroc is None and metrics.aupro is None
    assert metrics.image_auroc == image_auroc(scores, split.labels)
    assert metrics.objective == metrics.image_auroc


def test_partial_masks_score_pixels_only_where_the_truth_is_known() -> None:
    split, scores, maps = _split([True, True, True, False])
    metrics = split_metrics(scores, maps, split)
    rows = [0, 1, 2]
    assert (metrics.pixel_auroc, metrics.aupro) == pixel_metrics(maps[rows], split.masks[rows])


def test_objective_of_hand_built_metrics() -> None:
    assert SplitMetrics(0.8, None, None).objective == 0.8
    assert SplitMetrics(0.8, 0.9, 0.6).objective == pytest.approx(0.7)
