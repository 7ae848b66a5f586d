"""Reading a split's images as the model's inputs (tiles) and its masks at the metric resolution.

Every image is read at its own size, resized by ``data.scale``, laid out
(:func:`ssflow_runtime.tiling.plan_layout`: squash, keep aspect or tiles) and cut into
S x S inputs. Masks are kept per image at the **metric resolution**, where
pixel AUROC and AUPRO are computed (see :func:`metric_factor`):

- never coarser than the model's own resolution (S map pixels per tile side);
- fine enough that the smallest defect region of the split is at least
  :data:`MIN_REGION_PX` pixels across its narrower side, up to the image's
  own resolution (after ``data.scale``), never finer;
- at most :data:`METRIC_PIXEL_BUDGET` pixels over the whole split (float32
  maps and bool masks: 5 bytes a pixel, 200 MB at the budget); past it the
  factor shrinks to fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ssflow.datasets.masks import MaskMismatch, binarize, fits_image, is_lossy, mismatch_error, reduce_mask
from ssflow.datasets.records import ImageRecord
from ssflow_runtime.images import decode, decode_bytes, read_bytes, to_rgb
from ssflow_runtime.model_inputs import InputSettings, image_inputs
from ssflow_runtime.tiling import TileLayout, scaled_shape

MIN_REGION_PX = 3
METRIC_PIXEL_BUDGET = 40_000_000


@dataclass(frozen=True)
class LoadedInputs:
    tiles: np.ndarray  # (T, S, S, 3) uint8, the tiles of image i at rows offsets[i]:offsets[i + 1]
    layouts: tuple[TileLayout, ...]  # (N,)
    masks: np.ndarray | tuple[np.ndarray, ...]  # bool per image at the metric resolution; (N, H, W) when alike
    labels: np.ndarray  # (N,) int64, 1 = anomalous


def _native_mask(record: ImageRecord, image_shape: tuple[int, int], scaled: tuple[int, int]
                 ) -> np.ndarray | MaskMismatch:
    data = read_bytes(record.mask_path)
    pixels = decode_bytes(data, record.mask_path)
    if not fits_image(pixels.shape[:2], image_shape):
        return MaskMismatch(record.mask_path, pixels.shape[:2], record.image_path, tuple(image_shape))
    return reduce_mask(binarize(pixels, lossy=is_lossy(data)), *scaled)


def smallest_region(masks: Sequence[np.ndarray | None]) -> int | None:
    """The narrower bounding-box side, in pixels, of the smallest 8-connected region of any mask; None: no region."""
    smallest = None
    for mask in masks:
        if mask is None or not mask.any():
            continue
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        across = int(np.minimum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]).min())
        smallest = across if smallest is None else min(smallest, across)
    return smallest


def metric_factor(layouts: Sequence[TileLayout], image_size: int, smallest: int | None) -> float:
    """Metric pixels per image pixel (after ``data.scale``), by the rule in the module doc."""
    model = max(max(shape[0] / layout.height, shape[1] / layout.width)
                for layout in layouts for shape in [layout.model_shape(image_size)])
    factor = model if smallest is None else max(model, MIN_REGION_PX / smallest)
    factor = min(factor, 1.0)
    pixels = sum(layout.height * layout.width for layout in layouts)
    return min(factor, math.sqrt(METRIC_PIXEL_BUDGET / pixels)) if pixels else factor


def metric_shape(layout: TileLayout, factor: float) -> tuple[int, int]:
    """(H, W) of an image's metric-resolution map and mask."""
    return max(1, round(layout.height * factor)), max(1, round(layout.width * factor))


def stacked(arrays: Sequence[np.ndarray]) -> np.ndarray | tuple[np.ndarray, ...]:
    """Per-image arrays as one (N, ...) array when they all have one shape, else as a tuple."""
    if arrays and all(array.shape == arrays[0].shape for array in arrays):
        return np.stack(arrays)
    return tuple(arrays)


def load_inputs(records: Sequence[ImageRecord], settings: InputSettings) -> LoadedInputs:
    """Read ``records`` into model inputs, layouts, metric-resolution masks and labels.

    Raises:
        UserInputError: an unreadable file, values above ``bit_depth`` bits, a tile larger than an
            image, or masks that do not fit their images (all named in one line).
    """
    tiles, layouts, native = [], [], []
    mismatches: list[MaskMismatch] = []
    for record in records:
        pixels = decode(record.image_path)
        rgb = to_rgb(pixels, settings.bit_depth, record.image_path)
        inputs, layout = image_inputs(rgb, settings, str(record.image_path))
        tiles.append(inputs)
        layouts.append(layout)
        mask = None
        if record.mask_path is not None:
            mask = _native_mask(record, rgb.shape[:2], scaled_shape(*rgb.shape[:2], settings.scale))
            if isinstance(mask, MaskMismatch):
                mismatches.append(mask)
                mask = None
        native.append(mask)
    if mismatches:
        raise mismatch_error(mismatches)
    factor = metric_factor(layouts, settings.image_size, smallest_region(native)) if layouts else 1.0
    masks = []
    for layout, mask in zip(layouts, native):
        height, width = metric_shape(layout, factor)
        masks.append(np.zeros((height, width), dtype=bool) if mask is None else reduce_mask(mask, height, width))
    size = settings.image_size
    return LoadedInputs(
        tiles=np.concatenate(tiles) if tiles else np.empty((0, size, size, 3), dtype=np.uint8),
        layouts=tuple(layouts),
        masks=stacked(masks) if masks else np.zeros((0, size, size), dtype=bool),
        labels=np.array([record.label for record in records], dtype=np.int64),
    )
