"""Lighting changes (ssflow.datasets.photometric) and the config keys that ask for them."""

import math

import numpy as np
import pytest

from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat
from ssflow.datasets.photometric import (
    MAX_GAIN,
    MAX_GAMMA,
    MAX_RAMP,
    MAX_TEMPERATURE,
    UNCHANGED,
    LightingChange,
    augment,
    random_change,
    relight,
)


def _grey(value: int, side: int = 16) -> np.ndarray:
    return np.full((side, side, 3), value, dtype=np.uint8)


def test_unchanged_lighting_keeps_every_byte() -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(relight(image, UNCHANGED), image)


def test_each_kind_of_change_does_what_it_says() -> None:
    assert relight(_grey(200), LightingChange(gain=0.8)).max() == 160
    warm = relight(_grey(100), LightingChange(temperature=0.05))[0, 0]
    assert tuple(warm) == (105, 100, 95)
    ramp = relight(_grey(100, side=64), LightingChange(ramp=0.2, angle=0.0)).astype(int)[..., 1]
    assert ramp[:, -1].min() > 110 and ramp[:, 0].max() < 90  # brighter to the right, darker to the left
    assert abs(ramp[32, 31] - 100) <= 2  # unchanged at the centre
    assert relight(_grey(64), LightingChange(gamma=2.0))[0, 0, 0] == 16  # (64/255)^2 * 255
    assert relight(_grey(250), LightingChange(gain=1.4)).max() == 255  # clipped, never wrapped


def test_strength_scales_the_ranges_and_zero_changes_nothing() -> None:
    rng = np.random.default_rng(0)
    assert random_change(0.0, rng)._replace(angle=0.0) == UNCHANGED
    changes = [random_change(1.0, rng) for _ in range(400)]
    gains = np.array([c.gain for c in changes])
    assert 1 / MAX_GAIN <= gains.min() < 0.75 and 1.35 < gains.max() <= MAX_GAIN  # both sides, near the ends
    assert max(abs(c.ramp) for c in changes) <= MAX_RAMP
    assert max(abs(c.temperature) for c in changes) <= MAX_TEMPERATURE
    assert all(1 / MAX_GAMMA <= c.gamma <= MAX_GAMMA for c in changes)
    half = [random_change(0.5, rng) for _ in range(400)]
    assert max(abs(math.log(c.gain)) for c in half) <= 0.5 * math.log(MAX_GAIN) + 1e-12


def test_augmentation_is_seeded() -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    first = augment(images, 0.7, np.random.default_rng(5))
    assert np.array_equal(first, augment(images, 0.7, np.random.default_rng(5)))
    assert not np.array_equal(first, augment(images, 0.7, np.random.default_rng(6)))
    assert np.array_equal(augment(images, 0.0, np.random.default_rng(5)), images)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("train.photometric", 1.5, "a strength in [0, 1]"),
    ("train.photometric", -0.1, "a strength in [0, 1]"),
    ("train.photometric_views", 0, "an integer in [1, 32]"),
    ("data.normalize", "per_pixel", "one of none, per_image, per_channel, features, shading"),
    ("validation.localization", "aupro_01", "one of aupro, aupro_05"),
])
def test_bad_lighting_settings_are_refused_naming_the_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(UserInputError) as caught:
        config_from_flat({key: value})
    message = str(caught.value)
    assert f"'{key}'" in message and expected in message and "\n" not in message
