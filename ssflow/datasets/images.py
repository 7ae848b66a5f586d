"""Reading images from disk into fixed-size arrays, the same way for training, masks and predict.

Images become RGB uint8 (S, S, 3) whatever they are on disk (grey, 16-bit,
alpha, rotated by an EXIF tag, PNG, BMP, JPEG or TIFF); masks become bool
(S, S) (see :mod:`ssflow.datasets.masks`). Non-square images are resized to a
square, as the reference implementation does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ssflow.datasets.masks import MaskMismatch, binarize, fits_image, is_lossy, mismatch_error, reduce_mask
from ssflow.datasets.records import ImageRecord
from ssflow_runtime.images import decode, decode_bytes, read_bytes, to_rgb

def resize_square(pixels: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """Resize (H, W[, C]) to (size, size[, C]); default: area when shrinking, linear when enlarging."""
    height, width = pixels.shape[:2]
    if (height, width) == (size, size):
        return pixels
    if interpolation is None:
        interpolation = cv2.INTER_AREA if size <= min(height, width) else cv2.INTER_LINEAR
    return cv2.resize(pixels, (size, size), interpolation=interpolation)


def read_image(path: Path, size: int, bit_depth: int = 0) -> np.ndarray:
    """Read ``path`` as RGB uint8 of shape (size, size, 3); 16-bit files as ``bit_depth`` bits (see :func:`to_uint8`).

    Raises:
        UserInputError: an unreadable file, or values above ``bit_depth`` bits.
    """
    return resize_square(to_rgb(decode(path), bit_depth, path), size)


def read_mask(
    path: Path | None,
    size: int,
    image_shape: tuple[int, int] | None = None,
    *,
    image_path: Path | None = None,
) -> np.ndarray:
    """Read a ground-truth mask as bool (size, size); None gives an all-False mask.

    Any common encoding means the same thing (see :func:`ssflow.datasets.masks.binarize`),
    and the reduction keeps thin defects in one piece (:func:`ssflow.datasets.masks.reduce_mask`).
    When ``image_shape`` (the original (H, W) of the image, named by
    ``image_path`` in errors) is given, a mask of another size is accepted
    only with the same aspect ratio.

    Raises:
        UserInputError: unreadable file, or a mask that does not fit its image.
    """
    if path is None:
        return np.zeros((size, size), dtype=bool)
    mask = fit_mask(path, size, image_shape, image_path)
    if isinstance(mask, MaskMismatch):
        raise mismatch_error([mask])
    return mask


def fit_mask(path: Path, size: int, image_shape: tuple[int, int] | None,
             image_path: Path | None) -> np.ndarray | MaskMismatch:
    """The mask at ``path`` as bool (size, size), or a :class:`MaskMismatch` when it does not fit its image."""
    data = read_bytes(path)
    pixels = decode_bytes(data, path)
    if image_shape is not None and not fits_image(pixels.shape[:2], image_shape):
        return MaskMismatch(path, pixels.shape[:2], image_path, tuple(image_shape))
    return reduce_mask(binarize(pixels, lossy=is_lossy(data)), size)


def load_split(records: Sequence[ImageRecord], size: int,
               bit_depth: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read records into images uint8 (N, S, S, 3), masks bool (N, S, S) and labels int64 (N,).

    16-bit images are read as ``bit_depth`` bits (see :func:`to_uint8`).

    A record without a mask gets an all-False mask. Each mask is checked
    against the original size of its image (:func:`fit_mask`).

    Raises:
        UserInputError: an unreadable file, values above ``bit_depth`` bits; or masks whose size is not their
            image's and whose aspect ratio differs too, all of them named in one
            line (the first few, then a count).
    """
    images = np.empty((len(records), size, size, 3), dtype=np.uint8)
    masks = np.zeros((len(records), size, size), dtype=bool)
    mismatches: list[MaskMismatch] = []
    for index, record in enumerate(records):
        pixels = decode(record.image_path)
        images[index] = resize_square(to_rgb(pixels, bit_depth, record.image_path), size)
        if record.mask_path is None:
            continue
        mask = fit_mask(record.mask_path, size, pixels.shape[:2], record.image_path)
        if isinstance(mask, MaskMismatch):
            mismatches.append(mask)
        else:
            masks[index] = mask
    if mismatches:
        raise mismatch_error(mismatches)
    labels = np.array([record.label for record in records], dtype=np.int64)
    return images, masks, labels
