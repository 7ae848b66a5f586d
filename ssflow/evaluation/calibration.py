"""Fitting a model's calibration (:class:`ssflow_runtime.calibration.Calibration`) on the selection split.

Pure numpy (no torch): thresholds, score and map ranges from the selection
split's scores, maps and labels; a label-free variant for runs without
labelled defects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ssflow_runtime.calibration import SELECTION, Calibration, ChosenThreshold, choose_threshold, rate_label
from ssflow_runtime.thresholds import allowed_false_positives, between, precision_recall, threshold_at_fpr

if TYPE_CHECKING:  # only for annotations: calibration runs without torch
    from ssflow.datasets.prepared import SplitData
    from ssflow.evaluation.evaluate import Evaluation

FPR_RATES = (0.001, 0.01, 0.05)  # false-positive rates whose thresholds every calibration stores
# With fewer normal selection images than this, held-out normal training images (when the run
# has them) join them for the false-positive thresholds: 1 % of 10 images cannot be resolved.
MIN_NORMAL_IMAGES = 20
SELECTION_AND_HOLDOUT = "selection+holdout"


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold with the best F1 on (scores, labels); ties keep the lower threshold.

    The threshold lies halfway between the lowest flagged score and the next
    lower one, so ``score >= threshold`` reproduces the best-F1 decisions.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order].astype(bool)
    true_positives = np.cumsum(sorted_labels)
    predicted = np.arange(1, len(scores) + 1)
    positives = max(int(sorted_labels.sum()), 1)
    f1 = 2 * true_positives / (predicted + positives)
    # Only cut between distinct scores: every image with the cut score is flagged.
    distinct = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    best = int(np.argmax(np.where(distinct, f1, -1.0)))
    # Halfway to the next lower score, never on a score: see ssflow_runtime.thresholds.SEPARATION.
    return between(float(sorted_scores[best]), float(sorted_scores[best + 1]) if best + 1 < len(scores) else None)


def calibration_normals(selection_normal: np.ndarray, holdout_normal: np.ndarray | None) -> tuple[np.ndarray, str]:
    """The normal scores the false-positive thresholds rest on, and where they come from.

    The selection split's normal images; with fewer than
    :data:`MIN_NORMAL_IMAGES` of them, held-out normal training images
    (``holdout_normal``, when given) are added.
    """
    selection_normal = np.asarray(selection_normal, dtype=np.float64)
    if len(selection_normal) >= MIN_NORMAL_IMAGES or holdout_normal is None or not len(holdout_normal):
        return selection_normal, SELECTION
    return np.concatenate([selection_normal, np.asarray(holdout_normal, dtype=np.float64)]), SELECTION_AND_HOLDOUT


def calibrate_scores(scores: np.ndarray, labels: np.ndarray, maps: np.ndarray | Sequence[np.ndarray],
                     holdout_normal_scores: np.ndarray | None = None) -> Calibration:
    """Fit a :class:`Calibration` on a labelled split.

    ``scores`` (N,) image scores and ``labels`` (N,) (1 = anomalous) of the
    selection split, ``maps`` its anomaly maps ((N, H, W), or N maps of their own sizes), and optionally the
    scores of normal training images held out from training (see
    :func:`calibration_normals`).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    selection_normal = scores[labels == 0]
    normals, source = calibration_normals(selection_normal, holdout_normal_scores)
    pixels = maps if isinstance(maps, np.ndarray) else np.concatenate([np.ravel(m) for m in maps])
    fpr = tuple((rate, threshold_at_fpr(normals, rate)) for rate in FPR_RATES) if len(normals) else ()
    return Calibration(
        threshold=best_f1_threshold(scores, labels),
        score_mean=float(selection_normal.mean()) if len(selection_normal) else 0.0,
        score_std=float(selection_normal.std()) if len(selection_normal) > 1 else 1.0,
        map_low=float(np.percentile(pixels, 1.0)),
        map_high=float(np.percentile(pixels, 99.9)),
        score_low=float(scores.min()),
        score_high=float(scores.max()),
        fpr_thresholds=fpr,
        normal_scores=tuple(float(s) for s in np.sort(normals)),
        normal_source=source,
    )


def calibrate(evaluation: Evaluation, split: SplitData, holdout_normal_scores: np.ndarray | None = None
              ) -> Calibration:
    """:func:`calibrate_scores` on an evaluated split (``evaluation.scores``/``maps``, ``split.labels``)."""
    return calibrate_scores(evaluation.scores, split.labels, evaluation.maps, holdout_normal_scores)


LABEL_FREE_RATE = 0.01  # the default false-positive rate of a model calibrated without labelled defects


def label_free(calibration: Calibration, normal_source: str) -> Calibration:
    """A calibration fitted on synthetic anomalies, with a default threshold that does not trust them.

    The best-F1 threshold of painted defects need not transfer to a line's
    real parts, so the default becomes the threshold at a false-positive rate
    of :data:`LABEL_FREE_RATE` on the normal calibration images (held-out good
    images, named by ``normal_source``). Raises ``ValueError`` without normal scores.
    """
    count = len(calibration.normal_scores)
    allowed = allowed_false_positives(LABEL_FREE_RATE, count)
    rule = (f"false-positive rate <= {rate_label(LABEL_FREE_RATE)}: at most {allowed} of {count} {normal_source} "
            "images flagged (no labelled defect to fit best F1 on)")
    return calibration._replace(threshold=calibration.threshold_for_rate(LABEL_FREE_RATE), threshold_rule=rule,
                                normal_source=normal_source)


def threshold_summary(calibration: Calibration, scores: np.ndarray, labels: np.ndarray,
                     chosen: ChosenThreshold | None = None) -> dict[str, Any]:
    """JSON-friendly summary of the threshold in use and the false-positive thresholds on a labelled split.

    ``scores`` (N,) and ``labels`` (N,) of the split to judge them on (the
    report split: never the one they were fitted on). ``chosen`` defaults to
    the calibrated best-F1 threshold. Keys: ``threshold`` (``value``, ``rule``,
    ``report``: :class:`ssflow_runtime.thresholds.PrecisionRecall` as a dict) and
    ``fpr_thresholds`` (one entry per stored rate with ``max_fpr``, ``value``,
    ``normal_images``, ``normal_source``, ``report``).
    """
    chosen = chosen or choose_threshold(calibration)
    rates = [{"max_fpr": rate, "value": value, "normal_images": len(calibration.normal_scores),
              "normal_source": calibration.normal_source,
              "report": precision_recall(scores, labels, value).as_dict()}
             for rate, value in calibration.fpr_thresholds]
    return {"threshold": {"value": chosen.value, "rule": chosen.rule,
                          "report": precision_recall(scores, labels, chosen.value).as_dict()},
            "fpr_thresholds": rates}
