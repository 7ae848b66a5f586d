"""End-to-end training on a small generated category: real backbone, real flow, real metrics."""

import numpy as np
import pytest
import torch

from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import DIVERGED, FINISHED, STOPPED, batch_indices, fit

FAST = {
    "data.dataset": "btad", "data.category": "wood", "backbone.image_size": 128,
    "flow.coupling_blocks": 2, "flow.hidden_channels": 32, "train.epochs": 3, "train.batch_size": 8,
}


@pytest.fixture(scope="module")
def setup(small_demo_root):
    config = config_from_flat({**FAST, "data.root": str(small_demo_root)})
    data = prepare_data(config)
    return config, data, prepare_run(config, data, torch.device("cpu"))


def test_fit_detects_real_defects(setup):
    config, data, inputs = setup
    epochs = []
    result = fit(config, data, "cpu", on_epoch=epochs.append, inputs=inputs)
    assert result.status == FINISHED and result.epochs == 3
    assert [report.epoch for report in epochs] == [1, 2, 3]
    assert result.report.image_auroc >= 0.8
    assert result.report.pixel_auroc >= 0.9
    assert 0.0 < result.report.aupro <= 1.0
    assert result.calibration.map_low < result.calibration.map_high
    replicates = epochs[-1].selection_replicates()  # the selection objective over resampled selection images
    assert replicates.shape == (200,) and abs(float(replicates.mean()) - epochs[-1].objective) < 0.05
    assert float(replicates.std()) > 0


def test_fit_is_deterministic_for_a_seed(setup):
    config, data, inputs = setup
    short = config_from_flat({"train.epochs": 1}, config)
    first = fit(short, data, "cpu", inputs=inputs)
    second = fit(short, data, "cpu", inputs=inputs)
    assert first.selection == second.selection
    for (name, a), (_, b) in zip(first.flow.state_dict().items(), second.flow.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)


def test_resume_from_checkpoint_matches_an_uninterrupted_run(setup):
    config, data, inputs = setup
    short = config_from_flat({"train.epochs": 2}, config)
    states = []
    straight = fit(short, data, "cpu", on_epoch=lambda r: states.append(r.checkpoint()),
                   inputs=inputs)
    resumed = fit(short, data, "cpu", resume=states[0], inputs=inputs)
    assert resumed.epochs == 2
    assert tuple(resumed.selection) == pytest.approx(tuple(straight.selection), abs=1e-6)


def test_callback_can_stop_early(setup):
    config, data, inputs = setup
    result = fit(config, data, "cpu", on_epoch=lambda report: True, inputs=inputs)
    assert result.status == STOPPED and result.epochs == 1


def test_divergence_is_reported_not_raised(setup):
    config, data, inputs = setup
    # One non-finite activation (a broken backbone or image) poisons the flow's input.
    poisoned_level = inputs.features.train[0].clone()
    poisoned_level[0, 0, 0, 0] = float("inf")
    poisoned = inputs.features._replace(train=[poisoned_level, *inputs.features.train[1:]])
    result = fit(config, data, "cpu", inputs=inputs._replace(features=poisoned))
    assert result.status == DIVERGED
    assert "non-finite" in result.reason and result.flow is None


def test_batches_never_leave_a_single_image():
    rng = np.random.default_rng(0)
    batches = list(batch_indices(17, 8, rng))
    assert [len(b) for b in batches] == [8, 9]
    assert sorted(np.concatenate(batches).tolist()) == list(range(17))
