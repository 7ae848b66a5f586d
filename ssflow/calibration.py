"""What a trained model needs to turn raw scores into decisions, fitted on the selection split.

Pure numpy (no torch), so an ONNX model is judged by the same code as a
``model.pt``. Stored in ``model.pt`` (as a dict) and in an exported ONNX
file's metadata (as JSON); :func:`calibration_from_dict` reads both, including
files written before the false-positive thresholds existed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Sequence

import numpy as np

from ssflow.errors import UserInputError
from ssflow.thresholds import allowed_false_positives, between, check_rate, precision_recall, threshold_at_fpr

if TYPE_CHECKING:  # only for annotations: calibration runs without torch
    from ssflow.data import SplitData
    from ssflow.evaluate import Evaluation

FPR_RATES = (0.001, 0.01, 0.05)  # false-positive rates whose thresholds every calibration stores
# With fewer normal selection images than this, held-out normal training images (when the run
# has them) join them for the false-positive thresholds: 1 % of 10 images cannot be resolved.
MIN_NORMAL_IMAGES = 20
SELECTION, SELECTION_AND_HOLDOUT = "selection", "selection+holdout"


class Calibration(NamedTuple):
    threshold: float  # best F1 on the selection split: the default decision threshold (score >= it)
    score_mean: float  # mean and std of the normal selection images' scores
    score_std: float
    map_low: float  # anomaly-map range for heatmaps (1st and 99.9th percentile of selection maps)
    map_high: float
    # Added later; older model.pt files load with these defaults.
    score_low: float = math.nan  # lowest and highest selection image score: the range of normalized_score
    score_high: float = math.nan
    fpr_thresholds: tuple[tuple[float, float], ...] = ()  # (rate, threshold) for each of FPR_RATES
    normal_scores: tuple[float, ...] = ()  # ascending scores of the normal calibration images
    normal_source: str = ""  # "selection", or "selection+holdout" when held-out normals joined
    threshold_rule: str = "best F1 on the selection split"  # how ``threshold`` was chosen, for people

    def threshold_for_rate(self, rate: float) -> float:
        """The lowest threshold flagging at most ``rate`` of the normal calibration images (any rate in (0, 1)).

        Raises ``ValueError`` when the calibration holds no normal scores (older files).
        """
        if not self.normal_scores:
            raise ValueError("this calibration holds no normal image scores")
        return threshold_at_fpr(self.normal_scores, rate)


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
    # Halfway to the next lower score, never on a score: see ssflow.thresholds.SEPARATION.
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


_DECISION_VALUES = ("threshold", "score_mean", "score_std", "map_low", "map_high")  # must be finite numbers


def calibration_from_dict(values: Mapping[str, Any]) -> Calibration:
    """A :class:`Calibration` from its stored dict (``model.pt``) or JSON (ONNX metadata).

    Fields missing in older files take their defaults; lists become tuples.
    Raises ``ValueError`` when a field of the first version is missing or a decision value is NaN, null or
    infinite (only ``score_low``/``score_high`` may be NaN: older files lack them).
    """
    missing = [name for name in Calibration._fields if name not in Calibration._field_defaults and name not in values]
    if missing:
        raise ValueError(f"calibration lacks {', '.join(missing)}")
    fields: dict[str, Any] = {name: values[name] for name in Calibration._fields if name in values}
    if "fpr_thresholds" in fields:
        fields["fpr_thresholds"] = tuple((float(rate), float(value)) for rate, value in fields["fpr_thresholds"])
    if "normal_scores" in fields:
        fields["normal_scores"] = tuple(float(value) for value in fields["normal_scores"])
    for name in ("threshold", "score_mean", "score_std", "map_low", "map_high", "score_low", "score_high"):
        if name in fields and fields[name] is None and name in _DECISION_VALUES:
            raise ValueError(f"{name} is null: expected a finite number")
        if name in fields:
            fields[name] = float(fields[name]) if fields[name] is not None else math.nan
    _check_finite(fields)
    return Calibration(**fields)


def _check_finite(fields: Mapping[str, Any]) -> None:
    """Refuse a non-finite decision value: a NaN threshold would call every image normal without a word.

    Only ``score_low``/``score_high`` may be NaN (files older than those fields).
    """
    for name in _DECISION_VALUES:
        if name in fields and not math.isfinite(fields[name]):
            raise ValueError(f"{name} is {fields[name]}: expected a finite number")
    for name in ("score_low", "score_high"):
        if name in fields and math.isinf(fields[name]):
            raise ValueError(f"{name} is {fields[name]}: expected a finite number")
    rates = [value for pair in fields.get("fpr_thresholds", ()) for value in pair]
    if not all(math.isfinite(value) for value in (*rates, *fields.get("normal_scores", ()))):
        raise ValueError("fpr_thresholds or normal_scores hold a non-finite number")


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    """Plain types only (floats, strings, lists), for ``model.pt`` and JSON; NaN becomes None."""
    def plain(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        return value

    return {name: plain(value) for name, value in calibration._asdict().items()}


class ChosenThreshold(NamedTuple):
    value: float  # score >= value is anomalous
    rule: str  # how it was chosen, for people: "best F1 on the selection split", "--max-fpr 1 % ..."


def choose_threshold(calibration: Calibration, threshold: float | None = None,
                     max_fpr: float | None = None) -> ChosenThreshold:
    """The threshold in use: ``threshold`` as given, the one for false-positive rate ``max_fpr``, or best F1.

    Any ``max_fpr`` in (0, 1) is computed exactly from the stored normal
    scores (no interpolation); a rate finer than one image in ``n`` allows no
    false positive and gives the threshold just above the highest normal
    score. Raises :class:`UserInputError` for both at once, a rate outside
    (0, 1), a non-finite threshold, or ``max_fpr`` with a calibration from an
    older model file that holds no normal scores.
    """
    if threshold is not None and max_fpr is not None:
        raise UserInputError("--threshold and --max-fpr both given; pick one")
    if threshold is not None:
        if not math.isfinite(threshold):
            raise UserInputError(f"--threshold {threshold}: expected a finite image score")
        return ChosenThreshold(float(threshold), "--threshold")
    if max_fpr is not None:
        rate = check_rate(max_fpr)
        if not calibration.normal_scores:
            raise UserInputError(f"--max-fpr {rate:g}: this model's calibration holds no normal image scores "
                                 "(written by an older version); retrain it, or give --threshold")
        count = len(calibration.normal_scores)
        allowed = allowed_false_positives(rate, count)
        return ChosenThreshold(calibration.threshold_for_rate(rate),
                               f"false-positive rate <= {rate_label(rate)}: at most {allowed} of {count} "
                               f"normal {calibration.normal_source or SELECTION} images flagged")
    return ChosenThreshold(calibration.threshold, calibration.threshold_rule)


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


def rate_label(rate: float) -> str:
    """0.001 -> '0.1 %', 0.05 -> '5 %'."""
    return f"{rate * 100:g} %"


def threshold_report(calibration: Calibration, scores: np.ndarray, labels: np.ndarray,
                     chosen: ChosenThreshold | None = None) -> dict[str, Any]:
    """JSON-friendly summary of the threshold in use and the false-positive thresholds on a labelled split.

    ``scores`` (N,) and ``labels`` (N,) of the split to judge them on (the
    report split: never the one they were fitted on). ``chosen`` defaults to
    the calibrated best-F1 threshold. Keys: ``threshold`` (``value``, ``rule``,
    ``report``: :class:`ssflow.thresholds.PrecisionRecall` as a dict) and
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
