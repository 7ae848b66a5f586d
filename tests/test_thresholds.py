"""Thresholds at false-positive rates, min-max normalised scores, precision/recall, calibration files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssflow.evaluation.calibration import FPR_RATES, MIN_NORMAL_IMAGES, best_f1_threshold, calibrate_scores
from ssflow_runtime.calibration import Calibration, calibration_from_dict, calibration_to_dict, choose_threshold
from ssflow.errors import UserInputError
from ssflow_runtime.thresholds import normalized_scores, precision_recall, threshold_at_fpr


@pytest.mark.parametrize("rate", [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_fpr_threshold_flags_as_many_normals_as_allowed_and_no_more(rate: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    normal = np.round(rng.normal(size=300), 2)  # rounded: many ties
    threshold = threshold_at_fpr(normal, rate)
    allowed = math.floor(rate * len(normal) + 1e-9)
    flagged = int((normal >= threshold).sum())
    assert flagged <= allowed
    # the next lower distinct score would flag more than allowed: no lower threshold does the job
    lower = normal[normal < threshold]
    if lower.size:
        assert int((normal >= lower.max()).sum()) > allowed
    assert not np.isin(threshold, normal)  # never on a score: runtimes' float noise cannot flip a decision


def test_fpr_threshold_without_allowance_sits_just_above_the_highest_normal() -> None:
    normal = np.array([0.2, 0.5, 0.4])
    threshold = threshold_at_fpr(normal, 0.01)
    assert 0.5 < threshold < 0.5 + 1e-3
    with pytest.raises(ValueError):
        threshold_at_fpr([], 0.01)
    with pytest.raises(ValueError):
        threshold_at_fpr(normal, 1.0)


def test_normalized_score_is_anomalibs_min_max_with_half_at_the_threshold() -> None:
    scores = np.array([0.0, 1.0, 2.0, 2.5, 3.0, 10.0, -10.0, np.nextafter(2.0, 0)])
    normalized = normalized_scores(scores, threshold=2.0, low=0.0, high=4.0)
    np.testing.assert_allclose(normalized[:6], [0.0, 0.25, 0.5, 0.625, 0.75, 1.0])
    assert normalized[6] == 0.0
    assert normalized[7] < 0.5  # a hair below the threshold stays below 0.5
    assert ((normalized >= 0.5) == (scores >= 2.0)).all()
    assert np.isnan(normalized_scores(scores, 2.0, math.nan, math.nan)).all()


def test_precision_recall_of_a_threshold() -> None:
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    labels = np.array([0, 0, 1, 1, 1, 0])
    result = precision_recall(scores, labels, 0.38)
    assert (result.precision, result.recall) == (2 / 3, 2 / 3)
    assert (result.flagged, result.false_positives, result.normal, result.anomalous) == (3, 1, 3, 3)
    nothing = precision_recall(scores, labels, 5.0)
    assert math.isnan(nothing.precision) and nothing.recall == 0.0 and nothing.as_dict()["precision"] is None


def test_best_f1_threshold_reproduces_the_best_split_between_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert best_f1_threshold(scores, labels) == pytest.approx(0.45)


def test_calibration_stores_fpr_thresholds_and_adds_holdout_normals_when_selection_has_few() -> None:
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(size=10), rng.normal(3, 1, size=10)])
    labels = np.repeat([0, 1], 10)
    maps = rng.random((20, 8, 8))
    alone = calibrate_scores(scores, labels, maps)
    assert alone.normal_source == "selection" and len(alone.normal_scores) == 10
    assert [rate for rate, _ in alone.fpr_thresholds] == list(FPR_RATES)
    assert (alone.score_low, alone.score_high) == (scores.min(), scores.max())
    holdout = rng.normal(size=200)
    pooled = calibrate_scores(scores, labels, maps, holdout)
    assert pooled.normal_source == "selection+holdout" and len(pooled.normal_scores) == 210
    enough = calibrate_scores(np.concatenate([rng.normal(size=MIN_NORMAL_IMAGES), [5.0]]),
                              np.append(np.zeros(MIN_NORMAL_IMAGES), 1), maps, holdout)
    assert enough.normal_source == "selection"  # enough normal selection images: held-out ones not needed
    for rate, value in pooled.fpr_thresholds:
        assert value == pooled.threshold_for_rate(rate)


def test_calibration_round_trips_and_older_dicts_load() -> None:
    calibration = calibrate_scores(np.arange(6.0), np.array([0, 0, 0, 1, 1, 1]), np.zeros((6, 2, 2)))
    assert calibration_from_dict(calibration_to_dict(calibration)) == calibration
    old = calibration_from_dict({"threshold": 1.0, "score_mean": 0.0, "score_std": 1.0, "map_low": 0.0,
                                 "map_high": 2.0})
    assert old.normal_scores == () and math.isnan(old.score_high)
    with pytest.raises(ValueError, match="threshold"):
        calibration_from_dict({"map_low": 0.0})


def test_choose_threshold() -> None:
    calibration = calibrate_scores(np.arange(10.0), np.array([0] * 8 + [1] * 2), np.zeros((10, 2, 2)))
    assert choose_threshold(calibration).value == calibration.threshold
    assert choose_threshold(calibration, threshold=3.0) == (3.0, "--threshold")
    chosen = choose_threshold(calibration, max_fpr=0.25)
    assert chosen.value == 5.5 and "at most 2 of 8 normal selection images" in chosen.rule
    for kwargs in ({"threshold": 1.0, "max_fpr": 0.1}, {"max_fpr": 0.0}, {"threshold": math.inf}):
        with pytest.raises(UserInputError):
            choose_threshold(calibration, **kwargs)
    with pytest.raises(UserInputError, match="older version"):
        choose_threshold(Calibration(1.0, 0.0, 1.0, 0.0, 1.0), max_fpr=0.01)
