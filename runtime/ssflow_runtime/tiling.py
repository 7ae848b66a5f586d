"""Cutting an image into the model's square inputs and stitching their anomaly maps back together.

One :class:`TileLayout` per image says where each model input comes from, in
three modes chosen by ``data.*`` (see :func:`plan_layout`):

- **squash** (``tile_size 0``, ``keep_aspect false``): one input, the whole
  image resized to S x S whatever its aspect ratio (the reference method's way);
- **keep aspect** (``tile_size 0``, ``keep_aspect true``): the image is
  reflect-padded to a centred square first, and the map is cropped back;
- **tiled** (``tile_size T > 0``): overlapping T x T tiles at the image's own
  resolution (after ``data.scale``), ``round(T * (1 - tile_overlap))`` apart,
  the last row and column aligned to the image's border (never padded), each
  resized to S x S.

Stitching (:func:`stitch`) resizes every tile's map to the tile's place and
takes, at each pixel, the weighted mean of the tiles covering it. A tile's
weight is a separable tent, 1 at its centre and falling linearly towards its
edges (floored at :data:`EDGE_WEIGHT`): in an overlap the value passes
continuously from one tile to the next, so no seam shows, and tile borders,
where the backbone's zero padding distorts features, count least. A constant
map stitches to the same constant everywhere, the last row and column included.

numpy and OpenCV only: ``predict`` on ONNX Runtime tiles and stitches with this
same code, so both model files give the same maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ssflow_runtime.errors import UserInputError

MAX_OVERLAP = 0.75  # data.tile_overlap is a fraction in [0, MAX_OVERLAP)
EDGE_WEIGHT = 0.05  # the tent's floor: pixels seen by one tile only still get that tile's value


@dataclass(frozen=True)
class TileLayout:
    """Where the model inputs of one image come from, in pixels of the image after ``data.scale``.

    The canvas is the image, reflect-padded by ``pad_top``/``pad_left`` (and
    the rest at the bottom/right) in keep-aspect mode; tiles are rectangles
    ``(top, left, height, width)`` on the canvas, all of one size.
    """

    height: int  # the image after data.scale
    width: int
    canvas_height: int
    canvas_width: int
    pad_top: int
    pad_left: int
    tiles: tuple[tuple[int, int, int, int], ...]

    @property
    def tile_count(self) -> int:
        return len(self.tiles)

    def model_shape(self, image_size: int) -> tuple[int, int]:
        """(H, W) of the image at the model's resolution: S map pixels per tile side.

        The stitched map is made at this size; the image score is read from it.
        """
        _, _, tile_height, tile_width = self.tiles[0]
        return (max(1, round(self.height * image_size / tile_height)),
                max(1, round(self.width * image_size / tile_width)))


def axis_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Tile starts along one axis of ``length`` pixels: ``round(tile * (1 - overlap))`` apart, the last at
    ``length - tile`` so the border is covered without padding. ``tile >= length`` gives ``[0]``."""
    if tile >= length:
        return [0]
    stride = max(1, round(tile * (1.0 - overlap)))
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def scaled_shape(height: int, width: int, scale: float) -> tuple[int, int]:
    """(H, W) of an image after ``data.scale``."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` (H, W[, C]) resized by ``scale`` (area when shrinking, linear when enlarging); 1.0 is a no-op."""
    if scale == 1.0:
        return image
    height, width = scaled_shape(*image.shape[:2], scale)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def plan_layout(height: int, width: int, tile_size: int = 0, tile_overlap: float = 0.25,
                keep_aspect: bool = False, path: str = "") -> TileLayout:
    """The layout of an image of ``height`` x ``width`` pixels (after ``data.scale``).

    Raises:
        UserInputError: ``tile_size`` larger than the image (named by ``path``), or ``tile_overlap``
            outside [0, 0.75).
    """
    if not 0.0 <= tile_overlap < MAX_OVERLAP:
        raise UserInputError(f"config key 'data.tile_overlap': got {tile_overlap!r}, expected a fraction in "
                             f"[0, {MAX_OVERLAP})")
    if tile_size > 0:
        if tile_size > min(height, width):
            where = f" {path}" if path else ""
            raise UserInputError(
                f"config key 'data.tile_size': got {tile_size}, larger than image{where} ({width}x{height} after "
                f"data.scale); expected a tile size in [32, {min(height, width)}] or 0 (whole image)")
        tiles = tuple((top, left, tile_size, tile_size)
                      for top in axis_starts(height, tile_size, tile_overlap)
                      for left in axis_starts(width, tile_size, tile_overlap))
        return TileLayout(height, width, height, width, 0, 0, tiles)
    if keep_aspect and height != width:
        side = max(height, width)
        return TileLayout(height, width, side, side, (side - height) // 2, (side - width) // 2,
                          ((0, 0, side, side),))
    return TileLayout(height, width, height, width, 0, 0, ((0, 0, height, width),))


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    if pixels.shape[:2] == (height, width):
        return pixels
    shrinking = height * width <= pixels.shape[0] * pixels.shape[1]
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def cut_tiles(image: np.ndarray, layout: TileLayout, size: int) -> np.ndarray:
    """The model inputs of ``image`` (H, W, 3) uint8 (after ``data.scale``): (T, size, size, 3) uint8."""
    if image.shape[:2] != (layout.height, layout.width):
        raise ValueError(f"image is {image.shape[:2]}, its layout {(layout.height, layout.width)}")
    canvas = image
    if (layout.canvas_height, layout.canvas_width) != (layout.height, layout.width):
        bottom = layout.canvas_height - layout.height - layout.pad_top
        right = layout.canvas_width - layout.width - layout.pad_left
        canvas = cv2.copyMakeBorder(image, layout.pad_top, bottom, layout.pad_left, right, cv2.BORDER_REFLECT_101)
    tiles = np.empty((layout.tile_count, size, size, 3), dtype=np.uint8)
    for index, (top, left, height, width) in enumerate(layout.tiles):
        tiles[index] = _resize(canvas[top:top + height, left:left + width], size, size)
    return tiles


def tent(length: int) -> np.ndarray:
    """(length,) float32 weights: 1 at the centre, linear to the edges, at least :data:`EDGE_WEIGHT`."""
    centres = np.arange(length, dtype=np.float32) + 0.5
    distance = np.minimum(centres, length - centres) / (length / 2.0)
    return np.maximum(distance, EDGE_WEIGHT).astype(np.float32)


def stitch(tile_maps: np.ndarray, layout: TileLayout, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """One map (H_out, W_out) float32 of the image from its tiles' maps (T, s, s).

    ``out_shape`` defaults to the image's size after ``data.scale``; any other
    size scales every tile's place by the same factor, so the model's
    resolution (:meth:`TileLayout.model_shape`) or the image's original size
    costs no second stitch. Overlaps are blended by the tent weights (module doc).
    """
    out_height, out_width = out_shape or (layout.height, layout.width)
    fy, fx = out_height / layout.height, out_width / layout.width
    canvas_height = max(round(layout.canvas_height * fy), round(layout.pad_top * fy) + out_height)
    canvas_width = max(round(layout.canvas_width * fx), round(layout.pad_left * fx) + out_width)
    if layout.tile_count == 1:  # squash and keep-aspect: no blending, one resize
        canvas = _resize(np.asarray(tile_maps[0], dtype=np.float32), canvas_height, canvas_width)
    else:
        total = np.zeros((canvas_height, canvas_width), dtype=np.float32)
        weight = np.zeros_like(total)
        for tile_map, (top, left, height, width) in zip(tile_maps, layout.tiles):
            y0, y1 = round(top * fy), min(canvas_height, round((top + height) * fy))
            x0, x1 = round(left * fx), min(canvas_width, round((left + width) * fx))
            weights = np.outer(tent(y1 - y0), tent(x1 - x0))
            total[y0:y1, x0:x1] += weights * _resize(np.asarray(tile_map, dtype=np.float32), y1 - y0, x1 - x0)
            weight[y0:y1, x0:x1] += weights
        canvas = total / weight
    top, left = round(layout.pad_top * fy), round(layout.pad_left * fx)
    return np.ascontiguousarray(canvas[top:top + out_height, left:left + out_width])


def tile_offsets(layouts: Sequence[TileLayout]) -> np.ndarray:
    """(N + 1,) int: the tiles of image i are rows ``offsets[i]:offsets[i + 1]`` of a split's inputs."""
    return np.concatenate([[0], np.cumsum([layout.tile_count for layout in layouts])]).astype(np.int64)


def _topk_mean(values: np.ndarray, share: float) -> float:
    flat = values.ravel()
    k = max(1, int(round(share * flat.size)))
    return float(np.partition(flat, flat.size - k)[flat.size - k:].astype(np.float64).mean())


def image_score(stitched: np.ndarray, image_score_kind: str, topk: float,
                layout: TileLayout | None = None) -> float:
    """The image score of a stitched map (H, W): its max, or a top-k mean (``map.image_score``).

    ``topk_mean`` is the mean of the top ``topk`` share of the pixels of one
    model input, as :func:`ssflow.model.anomaly_map.image_scores` computes it over a
    tile map: over the whole map in whole-image mode, and in tiled mode the
    largest such mean over the tiles' places in the stitched map. So ``map.topk``
    means the same share of what the model sees whatever the image's size: over
    a whole 2048 x 1536 frame, 1 % of its pixels would be a region far larger
    than the defects that tiling is for.
    """
    if image_score_kind == "max":
        return float(stitched.max())
    if layout is None or layout.tile_count == 1:
        return _topk_mean(stitched, topk)
    fy, fx = stitched.shape[0] / layout.height, stitched.shape[1] / layout.width
    return max(_topk_mean(stitched[round(top * fy):max(round(top * fy) + 1, round((top + height) * fy)),
                                   round(left * fx):max(round(left * fx) + 1, round((left + width) * fx))], topk)
               for top, left, height, width in layout.tiles)


def resized(image_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image_map`` (h, w) float resized (bilinear) to (height, width); unchanged when it has that size."""
    if image_map.shape == (height, width):
        return image_map
    return cv2.resize(image_map, (width, height), interpolation=cv2.INTER_LINEAR)


def image_map(tile_maps: np.ndarray, layout: TileLayout, out_shape: tuple[int, int], image_score_kind: str,
              topk: float) -> tuple[np.ndarray, float]:
    """One image's map at ``out_shape`` (H, W) and its image score, from its tiles' maps (T, s, s).

    The map is stitched at the model's resolution (:meth:`TileLayout.model_shape`),
    where the score is read (:func:`image_score`), then resized (bilinear) to
    ``out_shape``: the image's own size in ``predict``, the metric resolution in
    training, so a calibrated threshold means the same in both.
    """
    model_map = stitch(tile_maps, layout, layout.model_shape(tile_maps.shape[1]))
    return resized(model_map, *out_shape), image_score(model_map, image_score_kind, topk, layout)
