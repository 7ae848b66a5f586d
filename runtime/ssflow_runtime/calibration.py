"""What a trained model needs to turn raw scores into decisions, and the threshold in use.

Pure numpy: stored in ``model.pt`` (as a dict) and in an exported ONNX
file's metadata (as JSON); :func:`calibration_from_dict` reads both, including
files written before the false-positive thresholds existed. Fitting one on a
selection split is training's job (:mod:`ssflow.evaluation.calibration`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

from ssflow_runtime.errors import UserInputError
from ssflow_runtime.thresholds import allowed_false_positives, check_rate, threshold_at_fpr

SELECTION = "selection"


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


def rate_label(rate: float) -> str:
    """0.001 -> '0.1 %', 0.05 -> '5 %'."""
    return f"{rate * 100:g} %"
