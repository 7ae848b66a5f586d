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
from ssflow.errors import UserInputError

# Any depth (16-bit stays 16-bit) and any colour (grey stays grey), with the
# EXIF orientation applied: OpenCV applies it for every flag combination except
# IMREAD_UNCHANGED. Alpha is dropped, which images and masks both want.
DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
_CONTAINER_BITS = (8, 10, 12, 14)  # camera data commonly stored in 16-bit files


def read_bytes(path: Path) -> bytes:
    """The bytes of an image file; a missing or unreadable file raises naming it."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise UserInputError(f"cannot read image file {path}: {error.strerror or error}") from None


def decode_bytes(data: bytes, path: Path) -> np.ndarray:
    """Decode the bytes of ``path`` as (H, W) or (H, W, 3), uint8 or uint16, BGR, EXIF orientation applied.

    Raises:
        UserInputError: not an image OpenCV can decode, or a pixel type other than 8 or 16 bits.
    """
    if not data:
        raise UserInputError(f"image file {path} is empty (0 bytes)")
    # imdecode rather than imread: imread returns None for paths it cannot open on some platforms.
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), DECODE_FLAGS)
    if pixels is None or pixels.size == 0:
        raise UserInputError(f"image file {path} is not a readable image (corrupt or not an image format)")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise UserInputError(f"image file {path} has pixel type {pixels.dtype}; expected 8- or 16-bit integers")
    return pixels


def decode(path: Path) -> np.ndarray:
    """The pixels of ``path``: see :func:`decode_bytes`."""
    return decode_bytes(read_bytes(path), path)


def significant_bits(pixels: np.ndarray) -> int:
    """The bit depth a 16-bit image really uses: 8, 10, 12, 14 or 16.

    10- and 12-bit camera data is stored in 16-bit files with the top bits
    zero; scaled by 2^16 it would look almost black. The depth is the smallest
    of 8, 10, 12, 14 and 16 bits that holds the image's largest value, so an
    image of one camera whose brightest pixel stays under a quarter of its range
    (a badly under-exposed 12-bit frame) is read as 10-bit, 4x brighter.
    """
    peak = int(pixels.max()) if pixels.size else 0
    return next((bits for bits in _CONTAINER_BITS if peak < 1 << bits), 16)


def to_uint8(pixels: np.ndarray, bit_depth: int = 0, path: Path | None = None) -> np.ndarray:
    """uint8 pixels unchanged; uint16 scaled to 0..255 from ``bit_depth`` bits (0: :func:`significant_bits`).

    Raises:
        UserInputError: a uint16 image (named by ``path``) holding values above ``bit_depth`` bits:
            the configured depth is not the camera's.
    """
    if pixels.dtype != np.uint16:
        return pixels
    if not bit_depth:  # the smallest depth that holds the image's peak: nothing can lie above it
        return (pixels >> (significant_bits(pixels) - 8)).astype(np.uint8)
    peak = int(pixels.max()) if pixels.size else 0
    if peak >= 1 << bit_depth:
        raise UserInputError(f"image file {path or '(array)'} holds values up to {peak}, above the {bit_depth}-bit "
                             f"range of data.bit_depth={bit_depth} (set in training, kept by the model); train "
                             "with the camera's bit depth, or 0 to read each image at the smallest depth that holds it")
    return (pixels >> (bit_depth - 8)).astype(np.uint8)


def to_rgb(pixels: np.ndarray, bit_depth: int = 0, path: Path | None = None) -> np.ndarray:
    """Decoded pixels (H, W[, C]) -> RGB uint8 (H, W, 3); grey is repeated, alpha dropped (see :func:`to_uint8`)."""
    pixels = to_uint8(pixels, bit_depth, path)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    code = cv2.COLOR_BGRA2RGB if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(pixels, code)


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
