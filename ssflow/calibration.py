"""What a trained model needs to turn raw scores into decisions, fitted on the selection split."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssflow.data import SplitData
from ssflow.evaluate import Evaluation


class Calibration(NamedTuple):
    threshold: float  # image score at or above which an image is anomalous
    score_mean: float  # mean and std of the normal images' scores, to report z-scores
    score_std: float
    map_low: float  # anomaly-map range for heatmaps
    map_high: float


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold with the best F1 on (scores, labels); ties keep the lower threshold."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order].astype(bool)
    true_positives = np.cumsum(sorted_labels)
    predicted = np.arange(1, len(scores) + 1)
    positives = max(int(sorted_labels.sum()), 1)
    f1 = 2 * true_positives / (predicted + positives)
    # Only cut between distinct scores: every image with the cut score is flagged.
    distinct = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    best = int(np.argmax(np.where(distinct, f1, -1.0)))
    return float(sorted_scores[best])


def calibrate(evaluation: Evaluation, split: SplitData) -> Calibration:
    normal_scores = evaluation.scores[split.labels == 0]
    return Calibration(
        threshold=best_f1_threshold(evaluation.scores, split.labels),
        score_mean=float(normal_scores.mean()) if len(normal_scores) else 0.0,
        score_std=float(normal_scores.std()) if len(normal_scores) > 1 else 1.0,
        map_low=float(np.percentile(evaluation.maps, 1.0)),
        map_high=float(np.percentile(evaluation.maps, 99.9)),
    )
