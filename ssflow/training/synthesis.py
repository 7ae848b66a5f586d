"""Patch-blend synthetic anomalies: patches of one normal image blended into another.

Chiu & Lai (CVPR 2023 Workshops), "synthetic anomalies": per sample, one
patch always plus up to ``extra_patches`` more (each with probability
``extra_patch_prob``), cut from another normal image, randomly resized and
shifted, then blended by Poisson cloning (Perez et al., "Poisson image
editing", SIGGRAPH 2003; ``cv2.seamlessClone``), mixed-gradient cloning or
alpha blending. The returned mask is the footprint the blend wrote to: every
pixel outside it is byte-identical to the target. Mixed cloning keeps the
stronger of the two gradients, so on a strongly textured target a patch may
barely show; its footprint is still masked.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ssflow.settings.config import SynthesisConfig
from ssflow.errors import UserInputError

_CLONE_FLAGS = {"poisson": cv2.NORMAL_CLONE, "mixed": cv2.MIXED_CLONE}
# seamlessClone keeps the outer ring of its mask fixed (the Dirichlet boundary)
# and clears the mask's outermost row and column; a ring of one pixel around
# the patch plus one more of padding keeps both away from the patch.
_CLONE_MARGIN = 2
# Below this the cloning margin leaves almost no room for a patch.
_MIN_SIDE = 2 * _CLONE_MARGIN + 4
# Aspect jitter: the two resize factors move apart by up to about 10 % each.
_ASPECT_JITTER = 0.1


class SyntheticSample(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool: the footprint of the blended patches


class _Box(NamedTuple):
    top: int
    left: int
    height: int
    width: int


def synthesize(
    target: np.ndarray, source: np.ndarray, config: SynthesisConfig, rng: np.random.Generator
) -> SyntheticSample:
    """Blend 1 + Binomial(extra_patches, extra_patch_prob) patches of ``source`` into ``target``.

    Args:
        target: (H, W, 3) uint8 normal image that receives the patches.
        source: (H, W, 3) uint8 normal image the patches are cut from.
        config: patch size, count, resize range and blend mode.
        rng: the only source of randomness; the same state gives the same sample.

    Returns:
        The blended image and its (H, W) bool mask. Pixels outside the mask are
        unchanged; a patch that happens to match the target may leave some
        masked pixels unchanged too.
    """
    _check_image(target, "target")
    if min(target.shape[:2]) < _MIN_SIDE:
        raise UserInputError(
            f"synthesize: images of shape {target.shape} are too small; "
            f"expected both sides >= {_MIN_SIDE} pixels"
        )
    _check_image(source, "source")
    if source.shape != target.shape:
        raise UserInputError(
            f"synthesize: source has shape {source.shape} but target has shape {target.shape}; "
            "expected two images of the same size"
        )
    image = target.copy()
    mask = np.zeros(target.shape[:2], dtype=bool)
    patch_count = 1 + int(rng.binomial(config.extra_patches, config.extra_patch_prob))
    for _ in range(patch_count):
        patch = _cut_patch(source, config, rng)
        box = _place(patch.shape[:2], image.shape[:2], config.blend, rng)
        _blend_into(image, patch, box, config)
        mask[box.top:box.top + box.height, box.left:box.left + box.width] = True
    return SyntheticSample(image, mask)


def synthesize_batch(
    images: np.ndarray, config: SynthesisConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic sample per image, with patches from another image of the batch.

    Args:
        images: (N, H, W, 3) uint8 normal images, N >= 2.
        config: see :func:`synthesize`.
        rng: the only source of randomness.

    Returns:
        ``(images, masks)``: (N, H, W, 3) uint8 and (N, H, W) bool; sample i
        takes its patches from an image j != i drawn uniformly.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise UserInputError(f"synthesize_batch: images have shape {images.shape}; expected (N, H, W, 3)")
    if len(images) < 2:
        raise UserInputError(
            f"synthesize_batch: got {len(images)} image(s); patches come from another image of the "
            "batch, so at least 2 are needed (use a batch size >= 2 or more training shots)"
        )
    blended = np.empty_like(images)
    masks = np.empty(images.shape[:3], dtype=bool)
    for index in range(len(images)):
        # Draw from the N - 1 other images: skip over index itself.
        other = int(rng.integers(len(images) - 1))
        other += other >= index
        blended[index], masks[index] = synthesize(images[index], images[other], config, rng)
    return blended, masks


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise UserInputError(
            f"synthesize: {name} has shape {shape} and dtype {dtype}; expected an (H, W, 3) uint8 image"
        )


def _cut_patch(source: np.ndarray, config: SynthesisConfig, rng: np.random.Generator) -> np.ndarray:
    """A square crop of half-width (min_size + Gamma) * side from a random spot, randomly resized.

    Returns:
        (h, w, 3) uint8 patch; h, w >= 1 and no larger than the image.
    """
    height, width = source.shape[:2]
    side = min(height, width)
    half = config.min_size + rng.gamma(config.gamma_shape, config.gamma_scale)
    half = float(np.clip(half, config.min_size, config.max_size)) * side
    crop = int(np.clip(round(2 * half), 1, side))
    top = int(rng.integers(height - crop + 1))
    left = int(rng.integers(width - crop + 1))
    patch = source[top:top + crop, left:left + crop]

    scale = rng.uniform(config.resize_min, config.resize_max)
    aspect = np.exp(rng.uniform(-_ASPECT_JITTER, _ASPECT_JITTER))
    scale_y = np.clip(scale * aspect, config.resize_min, config.resize_max)
    scale_x = np.clip(scale / aspect, config.resize_min, config.resize_max)
    out_height = int(np.clip(round(crop * scale_y), 1, height))
    out_width = int(np.clip(round(crop * scale_x), 1, width))
    if (out_height, out_width) == (crop, crop):
        return patch
    return cv2.resize(patch, (out_width, out_height), interpolation=cv2.INTER_LINEAR)


def _place(
    patch_shape: tuple[int, int], image_shape: tuple[int, int], blend: str, rng: np.random.Generator
) -> _Box:
    """A uniformly random box for the patch, shrunk and kept clear of the border where cloning needs it."""
    margin = 0 if blend == "alpha" else _CLONE_MARGIN
    height = min(patch_shape[0], image_shape[0] - 2 * margin)
    width = min(patch_shape[1], image_shape[1] - 2 * margin)
    top = int(rng.integers(margin, image_shape[0] - margin - height + 1))
    left = int(rng.integers(margin, image_shape[1] - margin - width + 1))
    return _Box(top, left, height, width)


def _blend_into(image: np.ndarray, patch: np.ndarray, box: _Box, config: SynthesisConfig) -> None:
    """Blend ``patch`` (cropped to the box) into ``image`` in place, touching only the box."""
    patch = patch[:box.height, :box.width]
    rows = slice(box.top, box.top + box.height)
    cols = slice(box.left, box.left + box.width)
    if config.blend == "alpha":
        mixed = config.alpha * patch.astype(np.float32) + (1.0 - config.alpha) * image[rows, cols]
        image[rows, cols] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return
    image[rows, cols] = _clone(image, patch, box, _CLONE_FLAGS[config.blend])


def _clone(image: np.ndarray, patch: np.ndarray, box: _Box, flag: int) -> np.ndarray:
    """Poisson-clone ``patch`` onto the box of ``image``; returns the (h, w, 3) cloned box.

    Only a window of the box plus ``_CLONE_MARGIN`` pixels goes to OpenCV,
    which keeps the solve small. The source canvas equals the destination
    except on the box, and the clone mask is the box grown by one pixel: that
    ring is the fixed boundary of the solve, so the solution covers exactly
    the box.
    """
    margin = _CLONE_MARGIN
    window = image[box.top - margin:box.top + box.height + margin,
                   box.left - margin:box.left + box.width + margin]
    canvas = window.copy()
    canvas[margin:margin + box.height, margin:margin + box.width] = patch
    clone_mask = np.zeros(window.shape[:2], dtype=np.uint8)
    clone_mask[margin - 1:margin + box.height + 1, margin - 1:margin + box.width + 1] = 255
    # OpenCV puts the mask's bounding box at center - size // 2; this centre
    # maps it back onto itself, so nothing shifts.
    ring_height, ring_width = box.height + 2, box.width + 2
    center = (margin - 1 + ring_width // 2, margin - 1 + ring_height // 2)
    cloned = cv2.seamlessClone(canvas, window, clone_mask, center, flag)
    return cloned[margin:margin + box.height, margin:margin + box.width]
