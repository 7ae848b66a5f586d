"""The selection objective's data: a split fixed by data.split_seed, synthetic validation anomalies, the blend."""

from __future__ import annotations

import numpy as np
import pytest

from ssflow.datasets.prepared import prepare_data
from ssflow.evaluation.evaluate import SplitMetrics, selection_objective
from ssflow.settings.flat_config import config_from_flat
from ssflow.datasets.validation_set import VALIDATION_DEFECTS, painted_set


def test_report_split_stays_fixed_while_the_training_seed_changes(small_demo_root):
    base = {"data.dataset": "btad", "data.root": str(small_demo_root), "data.category": "wood",
            "backbone.image_size": 64}
    first = prepare_data(config_from_flat({**base, "seed": 0}))
    reseeded = prepare_data(config_from_flat({**base, "seed": 7}))
    resplit = prepare_data(config_from_flat({**base, "seed": 0, "data.split_seed": 1}))
    assert reseeded.report.paths == first.report.paths and reseeded.selection.paths == first.selection.paths
    assert resplit.report.paths != first.report.paths


def test_synthetic_validation_holds_out_normal_training_images_and_paints_them(small_demo_root):
    config = config_from_flat({"data.dataset": "btad", "data.root": str(small_demo_root), "data.category": "wood",
                               "backbone.image_size": 64, "validation.synthetic_weight": 0.5,
                               "validation.synthetic_per_image": 2, "data.holdout_fraction": 0.25})
    data = prepare_data(config)
    plain = prepare_data(config_from_flat({"validation.synthetic_weight": 0.0}, config))
    held = len(plain.train) - len(data.train)
    assert held == round(0.25 * len(plain.train))
    assert data.validation is not None and len(data.validation) == 3 * held
    sources = {path.split("#")[0] for path in data.validation.paths}
    assert not sources & set(data.train_paths)  # never trained on
    assert (data.validation.labels == 1).sum() == 2 * held
    painted = data.validation.labels == 1
    assert all(mask.any() for mask in data.validation.masks[painted])
    assert not data.validation.masks[~painted].any()
    assert data.selection.paths == plain.selection.paths  # the real test split is untouched
    again = prepare_data(config_from_flat({"seed": 5}, config))  # the training seed does not move it
    assert np.array_equal(again.validation.images, data.validation.images)


def test_painted_defects_change_exactly_their_masked_pixels():
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, size=(5, 64, 64, 3), dtype=np.uint8)
    out, masks, labels, names = painted_set(images, [f"img{i}.png" for i in range(5)], per_image=2, seed=3)
    assert out.shape == (15, 64, 64, 3) and labels.tolist() == [0] * 5 + [1] * 10
    for row in range(5, 15):
        source = (row - 5) // 2
        changed = (out[row] != images[source]).any(axis=2)
        assert np.array_equal(changed, masks[row]) and masks[row].any()
    used = {name.split("#")[1].rsplit("-", 1)[0] for name in names[5:]}
    assert used == set(VALIDATION_DEFECTS)  # ten paintings cycle through every kind


@pytest.mark.parametrize("weight, expected", [(0.0, 0.7), (1.0, 0.5), (0.25, 0.65)])
def test_objective_blends_real_and_synthetic(weight, expected):
    real, synthetic = SplitMetrics(0.8, 0.9, 0.6), SplitMetrics(0.6, 0.9, 0.4)
    assert selection_objective(real, synthetic, weight) == pytest.approx(expected)


def test_objective_without_the_side_it_weighs_raises():
    with pytest.raises(ValueError, match="synthetic validation set"):
        selection_objective(SplitMetrics(0.8, 0.9, 0.6), None, 0.5)
    assert selection_objective(None, SplitMetrics(0.6, 0.9, 0.4), 1.0) == pytest.approx(0.5)
