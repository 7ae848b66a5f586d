"""Bootstrap replicates of the selection objective: exact at unit weights, stratified, paired across configs."""

import numpy as np
import pytest

from ssflow.errors import UserInputError
from ssflow.evaluation.metrics import image_auroc, pixel_metric_set
from ssflow.evaluation.split_noise import (REPLICATES, aupro_replicates, image_auroc_replicates,
                                           objective_replicates, paired_noise, resampling_weights)


def _split(seed: int = 1, size: int = 48):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(14), np.ones(16)].astype(int)
    masks = np.zeros((labels.size, size, size), dtype=bool)
    for index in np.flatnonzero(labels):
        top, left = rng.integers(2, size - 14, 2)
        masks[index, top:top + rng.integers(3, 12), left:left + rng.integers(3, 12)] = True
    return labels, masks, rng


def _config_maps(rng, masks, shared, strength, own=0.4):
    """A config's maps: the split's own difficulty (``shared``, the same for every config) plus its own noise."""
    maps = shared + own * rng.normal(size=masks.shape) + strength * masks
    return maps, maps.reshape(len(maps), -1).max(axis=1)


def test_unit_weights_give_the_exact_metrics():
    labels, masks, rng = _split()
    maps, scores = _config_maps(rng, masks, rng.normal(size=masks.shape), 1.5)
    ones = np.ones((1, labels.size), dtype=np.int64)
    assert image_auroc_replicates(scores, labels, ones)[0] == pytest.approx(image_auroc(scores, labels), abs=1e-12)
    exact = pixel_metric_set(maps, masks)
    assert aupro_replicates(maps, masks, ones)[0] == pytest.approx(exact.aupro, abs=2e-3)
    assert aupro_replicates(maps, masks, ones, 0.05)[0] == pytest.approx(exact.aupro_05, abs=5e-3)


def test_resamples_keep_the_class_counts_and_repeat_under_the_seed():
    labels, _, _ = _split()
    weights = resampling_weights(labels)
    assert weights.shape == (REPLICATES, labels.size)
    assert (weights[:, labels == 0].sum(axis=1) == 14).all() and (weights[:, labels == 1].sum(axis=1) == 16).all()
    assert (weights == resampling_weights(labels)).all()
    assert (weights != resampling_weights(labels, seed=3)).any()
    with pytest.raises(UserInputError, match="normal and anomalous"):
        resampling_weights(np.ones(5))


def test_replicates_centre_on_the_objective_and_vary_with_the_images():
    labels, masks, rng = _split()
    maps, scores = _config_maps(rng, masks, rng.normal(size=masks.shape), 1.0)
    replicates = objective_replicates(scores, labels, maps, masks)
    exact = 0.5 * (image_auroc(scores, labels) + pixel_metric_set(maps, masks).aupro)
    assert replicates.dtype == np.float32 and replicates.shape == (REPLICATES,)
    assert abs(float(replicates.mean()) - exact) < 0.03 and 0.005 < float(replicates.std()) < 0.2
    # No masks: the objective is image AUROC alone, as SplitMetrics has it.
    detection = objective_replicates(scores, labels, None, None)
    assert float(np.median(detection)) == pytest.approx(image_auroc(scores, labels), abs=0.05)


def test_pairing_removes_the_noise_two_configs_share():
    """Two configs that see the same hard images: their difference varies far less than either alone."""
    labels, masks, rng = _split()
    shared = 1.2 * rng.normal(size=masks.shape)
    maps_a, scores_a = _config_maps(rng, masks, shared, 1.2, own=0.1)
    maps_b, scores_b = _config_maps(rng, masks, shared, 1.3, own=0.1)
    first = objective_replicates(scores_a, labels, maps_a, masks)
    second = objective_replicates(scores_b, labels, maps_b, masks)
    unpaired = float(np.hypot(first.std(ddof=1), second.std(ddof=1)))
    assert paired_noise(first, second) < 0.6 * unpaired
    with pytest.raises(ValueError, match="equal"):
        paired_noise(first, second[:10])
