"""Metrics against hand-computed values and independent implementations."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from ssflow.errors import UserInputError
from ssflow.evaluation.metrics import aupro, image_auroc, pixel_auroc, pixel_metric_set, pixel_metrics, pro_curve

# ---------------------------------------------------------------- image AUROC


def test_image_auroc_counts_correctly_ordered_pairs() -> None:
    # Pairs (anomalous, normal): (0.35, 0.1) yes, (0.35, 0.4) no, (0.8, *) yes twice: 3 / 4.
    assert image_auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75


def test_image_auroc_counts_ties_as_half() -> None:
    assert image_auroc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    # (0.5 vs 0.2) 1, (0.5 vs 0.5) 1/2, (0.9 vs both) 2: 3.5 / 4.
    assert image_auroc(np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1])) == 0.875


def test_image_auroc_extremes_and_label_types() -> None:
    scores = np.array([3.0, 1.0, 4.0, 2.0])
    assert image_auroc(scores, np.array([True, False, True, False])) == 1.0
    assert image_auroc(-scores, np.array([1, 0, 1, 0])) == 0.0
    assert image_auroc(np.array([1, 2, 3]), np.array([0, 1, 1])) == 1.0  # integer scores


def test_image_auroc_matches_sklearn_with_many_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = rng.integers(0, 7, 500) + 0.5 * labels  # heavy ties
    assert image_auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


# ---------------------------------------------------------------- pixel AUROC


def test_pixel_auroc_on_a_tiny_hand_computed_case() -> None:
    maps = np.array([[[0.9, 0.1], [0.2, 0.3]], [[0.4, 0.8], [0.1, 0.3]]])
    masks = np.array([[[1, 0], [0, 0]], [[0, 1], [0, 1]]])
    # Anomalous 0.9 and 0.8 beat all 5 normal pixels; anomalous 0.3 beats 0.1, 0.2, 0.1,
    # ties 0.3 and loses to 0.4: (5 + 5 + 3.5) / 15.
    assert pixel_auroc(maps, masks) == pytest.approx(0.9, abs=1e-15)


def test_pixel_auroc_matches_sklearn_on_random_maps() -> None:
    rng = np.random.default_rng(1)
    masks = rng.random((3, 16, 16)) < 0.2
    maps = rng.normal(size=masks.shape).astype(np.float32) + masks
    expected = roc_auc_score(masks.ravel(), maps.ravel())
    assert pixel_auroc(maps, masks) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- validation


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(UserInputError, match=r"\(3,\).*\(4,\)"):
        image_auroc(np.zeros(3), np.array([0, 1, 0, 1]))
    with pytest.raises(UserInputError, match=r"\(2, 4, 4\).*\(2, 4, 5\)"):
        aupro(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))


def test_single_class_is_reported_as_undefined() -> None:
    with pytest.raises(UserInputError, match="only class 0.*undefined"):
        image_auroc(np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(UserInputError, match="only class 1.*undefined"):
        pixel_auroc(np.zeros((1, 2, 2)), np.ones((1, 2, 2)))
    with pytest.raises(UserInputError, match="only class 0"):
        aupro(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))


def test_non_finite_scores_are_counted() -> None:
    maps = np.zeros((1, 2, 3))
    maps[0, 0, 0] = np.nan
    maps[0, 1, 2] = np.inf
    masks = np.array([[[1, 0, 0], [0, 0, 0]]])
    with pytest.raises(UserInputError, match="2 NaN/Inf value"):
        pixel_auroc(maps, masks)
    with pytest.raises(UserInputError, match="1 NaN/Inf value"):
        image_auroc(np.array([np.nan, 1.0]), np.array([0, 1]))


def test_other_mistakes_are_user_errors() -> None:
    with pytest.raises(UserInputError, match="255.*mask > 0"):
        pixel_auroc(np.zeros((1, 2, 2)), np.array([[[0, 255], [0, 0]]]))
    with pytest.raises(UserInputError, match=r"expected \(N, H, W\)"):
        pixel_auroc(np.zeros((2, 2)), np.array([[0, 1], [0, 0]]))
    with pytest.raises(UserInputError, match="fpr_limit"):
        aupro(np.zeros((1, 2, 2)), np.array([[[0, 1], [0, 0]]]), fpr_limit=0.0)
    with pytest.raises(UserInputError, match="dtype"):
        image_auroc(np.array(["a", "b"]), np.array([0, 1]))


# ---------------------------------------------------------------- AUPRO


def test_perfect_map_scores_one() -> None:
    rng = np.random.default_rng(2)
    masks = np.zeros((2, 10, 10), dtype=bool)
    masks[0, 1:3, 1:4] = True
    masks[1, 6:9, 5:6] = True
    maps = np.where(masks, 1.0 + rng.random(masks.shape), rng.random(masks.shape))
    assert aupro(maps, masks) == pytest.approx(1.0, abs=1e-12)


def test_constant_map_scores_the_chance_diagonal() -> None:
    # One threshold: the curve jumps from (0, 0) straight to (1, 1), and the area
    # under PRO = FPR up to the limit, divided by the limit, is limit / 2.
    masks = np.zeros((2, 6, 6), dtype=bool)
    masks[0, :2, :2] = True
    masks[1, 3, 3] = True
    maps = np.full(masks.shape, 0.7)
    fpr, pro = pro_curve(maps, masks)
    np.testing.assert_array_equal(fpr, [0.0, 1.0])
    np.testing.assert_array_equal(pro, [0.0, 1.0])
    assert aupro(maps, masks) == pytest.approx(0.15, abs=1e-15)
    assert aupro(maps, masks, fpr_limit=1.0) == pytest.approx(0.5, abs=1e-15)


def _hand_case() -> tuple[np.ndarray, np.ndarray]:
    """A 3x4 image: region A = one pixel, region B = three pixels, 8 normal pixels.

    Scores in descending order: B 0.95, normal 0.9, A 0.85, {normal, B} tied at
    0.8, {normal, B} tied at 0.7, then the five remaining normal pixels.
    """
    masks = np.array([[[1, 0, 0, 0],
                       [0, 0, 0, 0],
                       [0, 1, 1, 1]]], dtype=bool)
    maps = np.array([[[0.85, 0.9, 0.8, 0.7],
                      [0.5, 0.4, 0.3, 0.2],
                      [0.1, 0.95, 0.8, 0.7]]])
    return maps, masks


def test_pro_curve_of_the_hand_case() -> None:
    maps, masks = _hand_case()
    fpr, pro = pro_curve(maps, masks)
    # PRO = (overlap of A + overlap of B) / 2; FPR = normal pixels predicted / 8.
    expected = [
        (0, 0),
        (0, (0 + 1 / 3) / 2),  # >= 0.95: one B pixel
        (1 / 8, 1 / 6),  # >= 0.9: a normal pixel
        (1 / 8, (1 + 1 / 3) / 2),  # >= 0.85: A found
        (2 / 8, (1 + 2 / 3) / 2),  # >= 0.8: tie, one step for both pixels
        (3 / 8, 1.0),  # >= 0.7: tie, B complete
        (4 / 8, 1.0), (5 / 8, 1.0), (6 / 8, 1.0), (7 / 8, 1.0), (1.0, 1.0),
    ]
    np.testing.assert_allclose(fpr, [x for x, _ in expected], atol=1e-12)
    np.testing.assert_allclose(pro, [y for _, y in expected], atol=1e-12)


def test_aupro_of_the_hand_case_interpolates_at_the_limit() -> None:
    maps, masks = _hand_case()
    # Segments up to FPR 0.3: (0, 1/6)-(1/8, 1/6): 1/48; the vertical step adds
    # nothing; (1/8, 2/3)-(1/4, 5/6): 1/8 * 3/4 = 3/32; the limit 0.3 falls on
    # (1/4, 5/6)-(3/8, 1) at 0.4 of the way, PRO = 5/6 + 0.4/6 = 9/10, area
    # 1/20 * (5/6 + 9/10) / 2 = 13/300.
    area = Fraction(1, 48) + Fraction(3, 32) + Fraction(13, 300)
    assert aupro(maps, masks, fpr_limit=0.3) == pytest.approx(float(area / Fraction(3, 10)), abs=1e-9)
    # A limit on a curve point needs no interpolation.
    area = Fraction(1, 48) + Fraction(3, 32)
    assert aupro(maps, masks, fpr_limit=0.25) == pytest.approx(float(area / Fraction(1, 4)), abs=1e-9)


def test_each_region_counts_once_whatever_its_size() -> None:
    # Image 0: a one-pixel region, found; image 1: a four-pixel region at the same
    # place, missed. Per-region overlap is (1 + 0) / 2, not 1 / 5 of the pixels,
    # and the two images' regions stay separate.
    masks = np.zeros((2, 5, 5), dtype=bool)
    masks[0, 0, 0] = True
    masks[1, :2, :2] = True
    maps = np.zeros(masks.shape)
    maps[0, 0, 0] = 1.0
    fpr, pro = pro_curve(maps, masks)
    assert (fpr[1], pro[1]) == (0.0, 0.5)


def test_regions_are_eight_connected() -> None:
    # A diagonal chain of 3 pixels is one region (4-connectivity would make it
    # three); with a missed 2x2 region and only the chain's first pixel found,
    # PRO = (1/3 + 0) / 2 = 1/6 (it would be 1/4 with three separate pixels).
    masks = np.zeros((1, 8, 8), dtype=bool)
    masks[0, [0, 1, 2], [0, 1, 2]] = True
    masks[0, 5:7, 5:7] = True
    maps = np.zeros(masks.shape)
    maps[0, 0, 0] = 1.0
    _, pro = pro_curve(maps, masks)
    assert pro[1] == pytest.approx(1 / 6, abs=1e-15)


def _brute_force_aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float) -> float:
    """One full-array pass per threshold and a segment-by-segment integral."""
    region_sets = []
    for mask in masks:
        labelled, count = ndimage.label(mask, structure=np.ones((3, 3)))
        region_sets.append([labelled == index for index in range(1, count + 1)])
    points = [(0.0, 0.0)]
    for threshold in np.unique(maps)[::-1]:
        predicted = maps >= threshold
        fpr = np.sum(predicted & ~masks) / np.sum(~masks)
        overlaps = [np.sum(predicted[i] & region) / np.sum(region)
                    for i, regions in enumerate(region_sets) for region in regions]
        points.append((fpr, np.mean(overlaps)))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        if x0 >= fpr_limit:
            break
        if x1 > fpr_limit:
            y1 = y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)
            x1 = fpr_limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / fpr_limit


@pytest.mark.parametrize("levels", [8, None])
@pytest.mark.parametrize("seed", [3, 4])
def test_aupro_matches_brute_force_on_random_data(levels: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.random((3, 14, 14)), sigma=(0, 1.5, 1.5))
    masks = blobs > np.quantile(blobs, 0.8)
    masks[2] = False  # an image without anomalies contributes normal pixels only
    maps = rng.random(masks.shape) + 0.4 * masks
    if levels is not None:
        maps = np.round(maps * levels) / levels  # many ties
    for limit in (0.3, 0.05, 1.0):
        assert aupro(maps, masks, limit) == pytest.approx(_brute_force_aupro(maps, masks, limit), abs=1e-9)


@pytest.mark.parametrize("levels", [4, None])
def test_pixel_metrics_equal_the_separate_metrics(levels: int | None) -> None:
    rng = np.random.default_rng(7)
    blobs = ndimage.gaussian_filter(rng.random((4, 20, 20)), sigma=(0, 2, 2))
    masks = blobs > np.quantile(blobs, 0.85)
    maps = rng.random(masks.shape) + 0.3 * masks
    if levels is not None:
        maps = np.round(maps * levels) / levels  # ties between normal and anomalous pixels
    for limit in (0.3, 0.1):
        roc_area, pro_area = pixel_metrics(maps, masks, limit)
        assert roc_area == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)
        assert roc_area == pytest.approx(pixel_auroc(maps, masks), abs=1e-12)
        assert pro_area == pytest.approx(aupro(maps, masks, limit), abs=1e-12)


def test_pixel_metrics_rejects_what_the_separate_metrics_reject() -> None:
    with pytest.raises(UserInputError, match="only class"):
        pixel_metrics(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(UserInputError, match="fpr_limit"):
        pixel_metrics(np.zeros((1, 2, 2)), np.array([[[0, 1], [0, 0]]]), fpr_limit=1.5)


def test_aupro_is_fast_on_a_full_test_set() -> None:
    # 100 maps of 256x256 with 6.5 million distinct scores: a loop over
    # thresholds would take hours; the sort-based sweep takes about a second.
    rng = np.random.default_rng(5)
    masks = np.zeros((100, 256, 256), dtype=bool)
    corners = rng.integers(0, 200, size=(100, 2))
    for image, (top, left) in enumerate(corners):
        masks[image, top:top + 40, left:left + 30] = True
    maps = rng.random(masks.shape, dtype=np.float32) + 0.5 * masks
    start = time.perf_counter()
    value = aupro(maps, masks)
    assert time.perf_counter() - start < 10.0
    assert 0.5 < value < 1.0


def test_aupro_05_by_hand() -> None:
    """40 normal pixels and one region of two anomalous pixels (A, B) in one row.

    Scores: A 10, one normal pixel 9, B 8, the other normal pixels 7 down to -31.
    PRO curve: (0, 0) -> (0, 0.5) at A -> (0.025, 0.5) at the normal 9 -> (0.025, 1) at B, then 1.
    Up to FPR 0.05: 0.025 * 0.5 + 0.025 * 1 = 0.0375, / 0.05 = 0.75.
    Up to FPR 0.3: 0.0125 + 0.275 = 0.2875, / 0.3 = 0.958333...
    """
    scores = np.concatenate([[10.0, 8.0, 9.0], np.arange(7.0, -32.0, -1.0)])
    mask = np.zeros(42, dtype=bool)
    mask[:2] = True
    maps, masks = scores[None, None], mask[None, None]
    metrics = pixel_metric_set(maps, masks)
    assert metrics.aupro_05 == pytest.approx(0.75)
    assert metrics.aupro == pytest.approx(0.2875 / 0.3)
    assert aupro(maps, masks, fpr_limit=0.05) == pytest.approx(0.75)
    assert metrics.pixel_auroc == pixel_metrics(maps, masks)[0]
