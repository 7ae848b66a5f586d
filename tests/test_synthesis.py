"""Patch-blend synthesis: exact masks, determinism, patch counts and sizes."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage

from ssflow.settings.config import BLEND_MODES, SynthesisConfig
from ssflow.errors import UserInputError
from ssflow.training.synthesis import SyntheticSample, synthesize, synthesize_batch

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def smooth_image(side: int, seed: int) -> np.ndarray:
    """(side, side, 3) uint8 gentle colour ramps: weak gradients everywhere."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:side, :side] / side
    channels = [60 + 80 * (a * rows + b * cols) for a, b in rng.random((3, 2))]
    return np.stack(channels, axis=-1).astype(np.uint8)


def checker_image(side: int, seed: int) -> np.ndarray:
    """(side, side, 3) uint8 high-contrast checkerboard plus noise: strong gradients."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:side, :side]
    board = 60 + 120 * (((rows // 3) + (cols // 3)) % 2)
    noisy = board[..., None] + rng.integers(-20, 21, size=(side, side, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def config(**changes: object) -> SynthesisConfig:
    return dataclasses.replace(SynthesisConfig(), **changes)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) inclusive bounds of the True pixels of an (H, W) mask."""
    rows, cols = np.nonzero(mask)
    return rows.min(), rows.max(), cols.min(), cols.max()


@pytest.mark.parametrize("blend", BLEND_MODES)
@pytest.mark.parametrize("seed", range(4))
def test_mask_is_exactly_the_blended_footprint(blend: str, seed: int) -> None:
    target, source = smooth_image(64, seed), checker_image(64, seed + 10)
    sample = synthesize(target, source, config(blend=blend), np.random.default_rng(seed))
    assert isinstance(sample, SyntheticSample)
    assert sample.image.shape == target.shape and sample.image.dtype == np.uint8
    assert sample.mask.shape == target.shape[:2] and sample.mask.dtype == bool
    changed = np.any(sample.image != target, axis=-1)
    assert sample.mask.any()
    np.testing.assert_array_equal(sample.image[~sample.mask], target[~sample.mask])
    # Most of the footprint really changed: the mask is not a loose superset.
    assert changed[sample.mask].mean() > 0.5


@pytest.mark.parametrize("blend", BLEND_MODES)
def test_every_edge_of_a_single_patch_changed(blend: str) -> None:
    # A misplaced clone (shifted by a pixel, or the mask off by the solver's
    # fixed boundary ring) would leave one of the box's edge lines untouched.
    target = np.full((48, 48, 3), 100, dtype=np.uint8)
    source = checker_image(48, seed=1)
    single = config(blend=blend, extra_patch_prob=0.0)
    for seed in range(5):
        sample = synthesize(target, source, single, np.random.default_rng(seed))
        top, bottom, left, right = bounding_box(sample.mask)
        assert sample.mask[top:bottom + 1, left:right + 1].all()  # one rectangle
        changed = np.any(sample.image != target, axis=-1)
        for edge in (changed[top, left:right + 1], changed[bottom, left:right + 1],
                     changed[top:bottom + 1, left], changed[top:bottom + 1, right]):
            assert edge.any()


def test_alpha_blend_mixes_with_the_given_opacity() -> None:
    target = np.full((32, 32, 3), 100, dtype=np.uint8)
    source = np.full((32, 32, 3), 200, dtype=np.uint8)
    one_patch = config(blend="alpha", alpha=0.25, extra_patch_prob=0.0)
    sample = synthesize(target, source, one_patch, np.random.default_rng(0))
    np.testing.assert_array_equal(sample.image[sample.mask], 125)


@pytest.mark.parametrize("blend", BLEND_MODES)
def test_same_seed_same_batch(blend: str) -> None:
    images = np.stack([checker_image(48, seed) if seed % 2 else smooth_image(48, seed) for seed in range(4)])
    first = synthesize_batch(images, config(blend=blend), np.random.default_rng(7))
    second = synthesize_batch(images, config(blend=blend), np.random.default_rng(7))
    other = synthesize_batch(images, config(blend=blend), np.random.default_rng(8))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


def test_batch_output_and_exact_masks() -> None:
    images = np.stack([smooth_image(40, seed) if seed % 2 else checker_image(40, seed) for seed in range(5)])
    blended, masks = synthesize_batch(images, config(), np.random.default_rng(0))
    assert blended.shape == images.shape and blended.dtype == np.uint8
    assert masks.shape == images.shape[:3] and masks.dtype == bool
    assert masks.any(axis=(1, 2)).all()
    np.testing.assert_array_equal(blended[~masks], images[~masks])


def test_patches_come_from_another_image_of_the_batch() -> None:
    # Flat images of distinct grey levels: with opacity 1 every masked pixel
    # shows the source's level exactly.
    levels = np.array([20, 80, 140, 200])
    images = np.broadcast_to(levels[:, None, None, None], (4, 32, 32, 3)).astype(np.uint8)
    sources_seen: dict[int, set[int]] = {index: set() for index in range(4)}
    rng = np.random.default_rng(0)
    for _ in range(30):
        blended, masks = synthesize_batch(images, config(blend="alpha", alpha=1.0), rng)
        for index in range(4):
            pasted = np.unique(blended[index][masks[index]])
            assert len(pasted) == 1 and pasted[0] != levels[index]
            sources_seen[index].add(int(np.flatnonzero(levels == pasted[0])[0]))
    assert all(seen == set(range(4)) - {index} for index, seen in sources_seen.items())


def test_one_patch_without_extra_patches() -> None:
    target, source = smooth_image(64, 0), checker_image(64, 1)
    for single in (config(extra_patch_prob=0.0), config(extra_patches=0, blend="alpha")):
        for seed in range(10):
            sample = synthesize(target, source, single, np.random.default_rng(seed))
            _, regions = ndimage.label(sample.mask, structure=EIGHT_CONNECTED)
            assert regions == 1, single.blend


def test_number_of_patches_follows_the_config() -> None:
    # Small fixed-size patches on a large image rarely touch, so the number of
    # mask regions counts the patches: 1 + Binomial(3, 1) = 4, a few merged.
    target, source = smooth_image(512, 0), checker_image(512, 1)
    four = config(min_size=0.02, max_size=0.02, extra_patches=3, extra_patch_prob=1.0,
                  resize_min=1.0, resize_max=1.0, blend="alpha")
    counts = []
    for seed in range(30):
        sample = synthesize(target, source, four, np.random.default_rng(seed))
        counts.append(ndimage.label(sample.mask, structure=EIGHT_CONNECTED)[1])
    assert max(counts) == 4 and np.mean(counts) > 3.5
    # Each of 3 extra patches with probability 1/2: about 2.5 on average.
    half = dataclasses.replace(four, extra_patch_prob=0.5)
    counts = [ndimage.label(synthesize(target, source, half, np.random.default_rng(seed)).mask,
                            structure=EIGHT_CONNECTED)[1] for seed in range(60)]
    assert min(counts) == 1 and max(counts) == 4 and 2.0 < np.mean(counts) < 3.0


@pytest.mark.parametrize("blend", ["poisson", "alpha"])
def test_patch_size_respects_the_bounds(blend: str) -> None:
    side = 128
    sizes = config(min_size=0.05, max_size=0.15, gamma_scale=0.2, resize_min=0.5, resize_max=2.0,
                   extra_patch_prob=0.0, blend=blend)
    target, source = smooth_image(side, 0), checker_image(side, 1)
    upper = 2 * sizes.max_size * side * sizes.resize_max + 1  # +1: rounding to whole pixels
    lower = 2 * sizes.min_size * side * sizes.resize_min - 1
    extents = []
    for seed in range(40):
        sample = synthesize(target, source, sizes, np.random.default_rng(seed))
        top, bottom, left, right = bounding_box(sample.mask)
        extents += [bottom - top + 1, right - left + 1]
    assert lower <= min(extents) and max(extents) <= upper
    assert max(extents) > 2 * sizes.max_size * side  # large draws are clipped, not rare


def test_patches_near_the_border_and_as_large_as_the_image() -> None:
    # Half-width 0.5 and upscaling: the patch must be shrunk to fit inside the
    # cloning margin rather than crash OpenCV.
    huge = config(min_size=0.5, max_size=0.5, resize_min=1.5, resize_max=2.0)
    target, source = smooth_image(16, 0), checker_image(16, 1)
    for seed in range(5):
        sample = synthesize(target, source, huge, np.random.default_rng(seed))
        np.testing.assert_array_equal(sample.image[~sample.mask], target[~sample.mask])
        assert not sample.mask[[0, 1, -2, -1]].any() and not sample.mask[:, [0, 1, -2, -1]].any()


def test_user_mistakes_are_explained() -> None:
    image = smooth_image(32, 0)
    rng = np.random.default_rng(0)
    with pytest.raises(UserInputError, match="at least 2"):
        synthesize_batch(image[None], config(), rng)
    with pytest.raises(UserInputError, match=r"\(N, H, W, 3\)"):
        synthesize_batch(image, config(), rng)
    with pytest.raises(UserInputError, match=r"\(32, 32, 3\).*\(16, 16, 3\)|\(16, 16, 3\).*\(32, 32, 3\)"):
        synthesize(image, smooth_image(16, 0), config(), rng)
    with pytest.raises(UserInputError, match="uint8"):
        synthesize(image.astype(np.float32), image, config(), rng)
    with pytest.raises(UserInputError, match="too small"):
        synthesize(image[:4, :4], image[:4, :4], config(), rng)


def test_a_training_batch_is_fast() -> None:
    # 16 images of 256x256 take about 0.1 s on one core; the bound leaves room
    # for a busy machine.
    images = np.stack([checker_image(256, seed) for seed in range(16)])
    rng = np.random.default_rng(0)
    synthesize_batch(images, config(), rng)
    start = time.perf_counter()
    synthesize_batch(images, config(), rng)
    assert time.perf_counter() - start < 2.0
