"""How an image file becomes the model's inputs: ``data.scale``, then squash, keep aspect or tiles, S x S each.

The same code lays out training images and images at the station, so a model
reads an image exactly as it was trained to (:mod:`ssflow_runtime.tiling`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssflow_runtime.tiling import TileLayout, cut_tiles, plan_layout, rescale


@dataclass(frozen=True)
class InputSettings:
    """How images become model inputs: ``backbone.image_size`` and the ``data.*`` tiling keys."""

    image_size: int
    tile_size: int = 0
    tile_overlap: float = 0.25
    scale: float = 1.0
    keep_aspect: bool = False
    bit_depth: int = 0


def image_inputs(pixels: np.ndarray, settings: InputSettings, path: str = "") -> tuple[np.ndarray, TileLayout]:
    """The model inputs (T, S, S, 3) uint8 and layout of one decoded RGB image (H, W, 3) at its own size.

    Raises ``UserInputError`` for a tile size larger than the image (after ``data.scale``).
    """
    scaled = rescale(pixels, settings.scale)
    layout = plan_layout(scaled.shape[0], scaled.shape[1], settings.tile_size, settings.tile_overlap,
                         settings.keep_aspect, path)
    return cut_tiles(scaled, layout, settings.image_size), layout
