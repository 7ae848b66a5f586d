import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from ssflow.model.anomaly_map import anomaly_maps, gaussian_smooth, image_scores
from ssflow.settings.config import MapConfig
from ssflow.model.flow import FlowOutput


def test_maps_are_upsampled_fused_and_highest_where_z_is_large():
    z_fine = torch.zeros(1, 4, 8, 8)
    z_fine[0, :, 2, 5] = 3.0
    z_coarse = torch.zeros(1, 4, 4, 4)
    output = FlowOutput([z_fine, z_coarse], [torch.zeros(1), torch.zeros(1)])
    maps = anomaly_maps(output, 32, MapConfig(score="nll", smoothing_sigma=0.0))
    assert maps.shape == (1, 32, 32)
    row, col = divmod(int(maps[0].argmax()), 32)
    assert 8 <= row < 12 and 20 <= col < 24  # the 4x4 cell of fine position (2, 5)


def test_levels_are_averaged():
    output = FlowOutput([torch.ones(1, 4, 8, 8), torch.zeros(1, 4, 4, 4)], [torch.zeros(1), torch.zeros(1)])
    maps = anomaly_maps(output, 16, MapConfig(score="nll", smoothing_sigma=0.0))
    assert torch.allclose(maps, torch.full((1, 16, 16), 0.5 * (0.5 + 0.0)))


def test_density_score_is_the_negated_mean_density():
    z = torch.zeros(1, 2, 2, 2)
    maps = anomaly_maps(FlowOutput([z], [torch.zeros(1)]), 2, MapConfig(score="density", smoothing_sigma=0.0))
    assert torch.allclose(maps, torch.full((1, 2, 2), -1 / math.sqrt(2 * math.pi)))


def test_smoothing_preserves_mass_and_constants():
    impulse = torch.zeros(1, 33, 33)
    impulse[0, 16, 16] = 1.0
    smoothed = gaussian_smooth(impulse, 2.0)
    assert smoothed.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert smoothed[0, 16, 16] < 1.0
    constant = torch.full((2, 10, 10), 3.0)
    assert torch.allclose(gaussian_smooth(constant, 1.5), constant)
    assert gaussian_smooth(impulse, 0.0) is impulse


@pytest.mark.parametrize(("shape", "sigma"), [((2, 40, 56), 4.0), ((1, 12, 9), 2.5), ((1, 5, 7), 3.0)])
def test_smoothing_equals_a_mirrored_gaussian_filter(shape: tuple[int, int, int], sigma: float) -> None:
    # scipy's "mirror" is torch's "reflect" (edges not repeated); truncate=4 gives the same radius.
    # The last case has a kernel radius larger than the map: the padding folds back more than once.
    maps = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    expected = ndimage.gaussian_filter(maps.double().numpy(), sigma=(0, sigma, sigma), mode="mirror", truncate=4.0)
    assert np.allclose(gaussian_smooth(maps, sigma).numpy(), expected, atol=1e-6)


def test_image_scores_max_and_topk():
    maps = torch.arange(100, dtype=torch.float32).view(1, 10, 10)
    assert image_scores(maps, MapConfig(image_score="max")).item() == 99.0
    assert image_scores(maps, MapConfig(image_score="topk_mean", topk=0.04)).item() == pytest.approx(97.5)
