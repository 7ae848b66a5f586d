"""Decision thresholds and scores on a fixed scale: pure numpy, no torch.

- :func:`threshold_at_fpr`: the lowest threshold that flags at most a given
  share of normal images (``score >= threshold`` is anomalous).
- :func:`normalized_scores`: anomalib's min-max normalisation centred on the
  threshold in use, so 0.5 is the decision boundary whatever the threshold.
- :func:`precision_recall`: how a threshold does on a labelled split.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ssflow_runtime.errors import UserInputError


class PrecisionRecall(NamedTuple):
    precision: float  # flagged anomalous / flagged; NaN when nothing is flagged
    recall: float  # flagged anomalous / anomalous; NaN when the split has no anomalous image
    flagged: int  # images with score >= threshold
    false_positives: int  # normal images among them
    normal: int  # normal images in the split
    anomalous: int  # anomalous images in the split

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-friendly: NaN becomes None."""
        return {key: (None if isinstance(value, float) and math.isnan(value) else value)
                for key, value in self._asdict().items()}


def check_rate(rate: float, flag: str = "--max-fpr") -> float:
    """``rate`` as a float in (0, 1), or a one-line :class:`UserInputError` naming ``flag``."""
    if not isinstance(rate, (int, float)) or not 0.0 < float(rate) < 1.0 or math.isnan(rate):
        raise UserInputError(f"{flag} {rate}: expected a false-positive rate in (0, 1), e.g. 0.01 for 1 %")
    return float(rate)


# Relative margin that keeps a threshold off the scores it was fitted on: runtimes whose scores
# agree within it (the ONNX export check guarantees 1e-4) take the same decisions on those images.
SEPARATION = 1e-4


def between(higher: float, lower: float | None) -> float:
    """A threshold flagging ``higher`` and not ``lower``: their midpoint, or just below ``higher`` alone."""
    if lower is None:
        return float(higher - SEPARATION * max(abs(higher), 1.0))
    return float(0.5 * (higher + lower))


def just_above(value: float) -> float:
    """A threshold flagging nothing at or below ``value``."""
    return float(value + SEPARATION * max(abs(value), 1.0))


def threshold_at_fpr(normal_scores: Sequence[float] | np.ndarray, rate: float) -> float:
    """The threshold flagging as many as possible, but at most ``floor(rate * n)``, of the ``n`` normal scores.

    It lies halfway between the lowest normal score still flagged and the next
    lower one (ties are flagged together and never push the count past the
    allowance), or, when no normal image may be flagged (``rate < 1 / n``),
    just above the highest normal score (:func:`just_above`). Exact on the
    given scores; on new images the rate holds as far as they resemble these.
    Raises ``ValueError`` for an empty ``normal_scores`` or a rate outside (0, 1).
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))[::-1]  # descending
    if scores.size == 0:
        raise ValueError("threshold_at_fpr needs at least one normal score")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate {rate}: expected a value in (0, 1)")
    allowed = allowed_false_positives(rate, scores.size)
    distinct = np.unique(scores)[::-1]  # descending
    flagged = np.searchsorted(-scores, -distinct, side="right")  # normal scores >= each distinct value
    admissible = np.flatnonzero(flagged <= allowed)
    if not admissible.size:
        return just_above(float(distinct[0]))
    cut = int(admissible[-1])  # never the lowest value: flagging all n would need rate >= 1
    return between(float(distinct[cut]), float(distinct[cut + 1]))


def allowed_false_positives(rate: float, count: int) -> int:
    """``floor(rate * count)``, robust to float error (0.01 * 300 allows 3, not 2)."""
    return int(math.floor(rate * count + 1e-9))


def normalized_scores(scores: np.ndarray, threshold: float, low: float, high: float) -> np.ndarray:
    """Scores on [0, 1] with the threshold at exactly 0.5, (N,) float64.

    ``clip((score - threshold) / (high - low) + 0.5, 0, 1)`` with ``low``/``high``
    the calibration split's lowest and highest image scores: anomalib's min-max
    normalisation (``anomalib.utils.normalization.min_max.normalize``, the
    same formula its post-processor applies). A score below the threshold
    always maps below 0.5 (rounding never lifts it onto the boundary), so
    ``normalized >= 0.5`` is exactly ``score >= threshold``. A zero or
    unknown range (``NaN``, from model files without one) gives NaN.
    """
    values = np.asarray(scores, dtype=np.float64)
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return np.full(values.shape, math.nan)
    normalized = np.clip((values - threshold) / span + 0.5, 0.0, 1.0)
    below = values < threshold
    return np.where(below & (normalized >= 0.5), np.nextafter(0.5, 0.0), normalized)


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> PrecisionRecall:
    """Precision and recall of ``score >= threshold`` on image ``scores`` (N,) with ``labels`` (N,), 1 = anomalous."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(labels).astype(bool)
    if scores.shape != truth.shape:
        raise ValueError(f"scores {scores.shape} and labels {truth.shape} must have the same shape")
    flagged = scores >= threshold
    hits = int((flagged & truth).sum())
    total_flagged = int(flagged.sum())
    anomalous = int(truth.sum())
    return PrecisionRecall(
        precision=hits / total_flagged if total_flagged else math.nan,
        recall=hits / anomalous if anomalous else math.nan,
        flagged=total_flagged,
        false_positives=total_flagged - hits,
        normal=int(truth.size - anomalous),
        anomalous=anomalous,
    )
