"""The synthetic bank: seeded, round-major, reused across epochs, cached like the clean features."""

import numpy as np
import pytest
import torch

from ssflow.model.backbone import configured_backbone
from ssflow.datasets.prepared import prepare_data
from ssflow.errors import UserInputError
from ssflow.training.feature_cache import DataIdentity, bank_key, cached_bank
from ssflow.training.run_features import compute_run_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import RunInputs
from ssflow.training.synthetic_bank import build_synthetic_bank
from ssflow.training.train import FINISHED, fit

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(small_demo_root):
    config = config_from_flat({
        "data.dataset": "btad", "data.category": "wood", "data.root": str(small_demo_root),
        "backbone.image_size": 64, "flow.coupling_blocks": 2, "flow.hidden_channels": 32,
        "train.epochs": 3, "train.batch_size": 8, "synthesis.bank_rounds": 2,
    })
    data = prepare_data(config)
    backbone = configured_backbone(config)
    return config, data, backbone


def test_bank_holds_every_round_of_every_training_image(setup):
    config, data, backbone = setup
    bank = build_synthetic_bank(backbone, data, config, CPU)
    count = len(data.train)
    assert (bank.rounds, bank.images) == (2, count)
    assert bank.masks.shape == (2 * count, 64, 64) and bank.masks.dtype == torch.bool
    assert all(bool(mask.any()) for mask in bank.masks)  # every variant has a defect
    clean = compute_run_features(backbone, data, CPU).train
    for level, clean_level in zip(bank.features, clean):
        assert level.shape == (2 * count, *clean_level.shape[1:])
        # Variants differ from their clean image and from each other.
        assert not torch.allclose(level[:count], clean_level)
        assert not torch.allclose(level[:count], level[count:])


def test_entries_cycle_through_the_rounds(setup):
    config, data, backbone = setup
    bank = build_synthetic_bank(backbone, data, config, CPU)
    index = np.array([3, 0])
    first, first_masks = bank.entries(0, index)
    again, _ = bank.entries(2, index)  # epoch 2 of 2 rounds is round 0 again
    other, other_masks = bank.entries(1, index)
    torch.testing.assert_close(first[0], bank.features[0][index])
    torch.testing.assert_close(again[0], first[0])
    torch.testing.assert_close(other[0], bank.features[0][bank.images + index])
    assert first_masks.shape == (2, 1, 64, 64) and first_masks.dtype == torch.float32
    assert not torch.equal(first_masks, other_masks)


def test_bank_is_fixed_by_the_seed(setup):
    config, data, backbone = setup
    first = build_synthetic_bank(backbone, data, config, CPU)
    second = build_synthetic_bank(backbone, data, config, CPU)
    reseeded = build_synthetic_bank(backbone, data, config_from_flat({"seed": 1}, config), CPU)
    assert torch.equal(first.masks, second.masks)
    torch.testing.assert_close(first.features[1], second.features[1])
    assert not torch.equal(first.masks, reseeded.masks)


def test_fit_with_a_given_bank_matches_fit_building_its_own(setup):
    config, data, backbone = setup
    bank = build_synthetic_bank(backbone, data, config, CPU)
    features = compute_run_features(backbone, data, CPU)
    own = fit(config, data, "cpu")
    given = fit(config, data, "cpu", inputs=RunInputs(backbone, features, bank))
    assert own.status == given.status == FINISHED
    assert tuple(given.selection) == pytest.approx(tuple(own.selection), abs=1e-6)


def test_fit_ignores_a_bank_when_the_config_has_none(setup):
    config, data, backbone = setup
    fresh = config_from_flat({"synthesis.bank_rounds": 0, "train.epochs": 1}, config)
    bank = build_synthetic_bank(backbone, data, config, CPU)
    features = compute_run_features(backbone, data, CPU)
    without = fit(fresh, data, "cpu", inputs=RunInputs(backbone, features, None))
    with_unused = fit(fresh, data, "cpu", inputs=RunInputs(backbone, features, bank))
    assert tuple(with_unused.selection) == pytest.approx(tuple(without.selection), abs=1e-6)


def test_bank_key_follows_training_images_synthesis_and_seed_only(setup):
    config, _, _ = setup
    data = DataIdentity(train="train-digest", evaluation="test-digest")
    key = bank_key(config, data, "weights")
    assert bank_key(config_from_flat({"train.lr": 1e-4, "loss.margin": 0.5}, config), data, "weights") == key
    assert bank_key(config, data._replace(evaluation="other test images"), "weights") == key
    assert bank_key(config, data._replace(train="other training images"), "weights") != key
    assert bank_key(config_from_flat({"synthesis.max_size": 0.2}, config), data, "weights") != key
    assert bank_key(config_from_flat({"synthesis.bank_rounds": 3}, config), data, "weights") != key
    assert bank_key(config_from_flat({"seed": 5}, config), data, "weights") != key
    assert bank_key(config, data, "other weights") != key


def test_cached_bank_round_trips_through_disk(setup, tmp_path):
    config, data, backbone = setup
    built = []

    def build():
        built.append(1)
        return build_synthetic_bank(backbone, data, config, CPU)

    first, hit_first = cached_bank(tmp_path, "k", CPU, build)
    second, hit_second = cached_bank(tmp_path, "k", CPU, build)
    assert (hit_first, hit_second, len(built)) == (False, True, 1)
    assert second.images == first.images and torch.equal(second.masks, first.masks)
    torch.testing.assert_close(second.features[0], first.features[0])


@pytest.mark.parametrize("rounds", [-1, 65])
def test_bank_rounds_out_of_range_is_a_one_line_error(rounds):
    with pytest.raises(UserInputError, match="synthesis.bank_rounds"):
        config_from_flat({"synthesis.bank_rounds": rounds})
