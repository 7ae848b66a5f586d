"""What the pixels of a ground-truth mask mean, and how a mask reaches the model's resolution.

Pure functions of decoded pixels (see :func:`ssflow.datasets.images.read_mask`
for the file side). Encodings met in practice, all read as "defect where not
background":

- 0/255 (MVTec-AD, BTAD) and 0/1 (many exports);
- per-class ids, several classes in one mask (VisA stores 0 = background,
  1..k = defect classes);
- grey levels near 255, one per defect type (MVTec LOCO);
- JPEG-compressed 0/255 masks, whose compression leaves small non-zero values
  around every edge and in flat black areas.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from ssflow.errors import UserInputError

_JPEG_START = b"\xff\xd8\xff"  # every JPEG file starts with its start-of-image marker
_LISTED = 3  # mismatched masks named in one error line before the rest are counted


def is_lossy(data: bytes) -> bool:
    """True when the file bytes are a JPEG, whatever its name says."""
    return data[:3] == _JPEG_START


def binarize(pixels: np.ndarray, lossy: bool) -> np.ndarray:
    """Decoded mask pixels (H, W[, C]), uint8 or uint16 -> bool (H, W), True on defect pixels.

    Lossless files: every non-zero value is a defect, which covers 0/1, 0/255,
    class ids and MVTec LOCO's grey levels alike. Lossy (JPEG) files: values
    above half the mask's largest value, so compression noise (small values near
    edges and in black areas) stays background. A colour mask counts a pixel
    where any channel does.
    """
    if pixels.ndim == 3:
        pixels = pixels[:, :, :3].max(axis=2)
    if not lossy:
        return pixels > 0
    peak = int(pixels.max()) if pixels.size else 0
    return pixels > peak / 2 if peak > 0 else np.zeros(pixels.shape, dtype=bool)


def fits_image(mask_shape: Sequence[int], image_shape: Sequence[int]) -> bool:
    """Whether a mask of (H, W) ``mask_shape`` belongs to an image of ``image_shape``.

    The same size, or the same aspect ratio within rounding (a mask saved at
    another resolution): the larger of the two scaled onto the smaller one's
    width (height) lands within one pixel of its height (width).
    """
    mask, image = tuple(mask_shape[:2]), tuple(image_shape[:2])
    if mask == image:
        return True
    (small_h, small_w), (large_h, large_w) = sorted((mask, image), key=lambda shape: shape[0] * shape[1])
    return abs(large_h * small_w / large_w - small_h) <= 1 and abs(large_w * small_h / large_h - small_w) <= 1


def reduce_mask(binary: np.ndarray, size: int, width: int | None = None) -> np.ndarray:
    """bool (H, W) -> bool (size, size), or (size, width): a pixel is a defect where any defect pixel overlaps it.

    Shrinking takes the area coverage of every output pixel and keeps any
    overlap, so a thin scratch stays one connected region: nearest-neighbour
    sampling of a 2-pixel scratch from 1024 to 256 px keeps only the rows it
    happens to hit and breaks it into dozens of specks, each a region of its
    own for AUPRO. Enlarging (a mask smaller than the model's input) repeats
    pixels (nearest neighbour), which cannot break a region either.
    """
    out_height, out_width = size, size if width is None else width
    height, width = binary.shape
    if (height, width) == (out_height, out_width):
        return binary.astype(bool, copy=False)
    coverage = binary.astype(np.float32)
    shrunk = (min(width, out_width), min(height, out_height))
    if shrunk != (width, height):
        coverage = cv2.resize(coverage, shrunk, interpolation=cv2.INTER_AREA)
    if shrunk != (out_width, out_height):
        coverage = cv2.resize(coverage, (out_width, out_height), interpolation=cv2.INTER_NEAREST)
    return coverage > 0


class MaskMismatch(NamedTuple):
    """A mask whose size is not its image's and whose aspect ratio differs too."""

    mask: Path
    mask_shape: tuple[int, int]  # (H, W)
    image: Path | None
    image_shape: tuple[int, int]  # (H, W)

    def describe(self) -> str:
        image = f"image {self.image}" if self.image is not None else "its image"
        return (f"{self.mask} is {self.mask_shape[1]}x{self.mask_shape[0]} but {image} is "
                f"{self.image_shape[1]}x{self.image_shape[0]}")


def mismatch_error(mismatches: Sequence[MaskMismatch]) -> UserInputError:
    """One line naming the first few mismatched masks (width x height) and counting the rest."""
    listed = "; ".join(mismatch.describe() for mismatch in mismatches[:_LISTED])
    more = f"; and {len(mismatches) - _LISTED} more" if len(mismatches) > _LISTED else ""
    count = f"{len(mismatches)} masks do not fit their images: " if len(mismatches) > 1 else "mask "
    return UserInputError(
        f"{count}{listed}{more} (width x height); a mask must have its image's size or aspect ratio "
        "(it is then resized): it belongs to another image or the copy is damaged"
    )
