"""Decoding image files as the model reads them: any depth, any colour, EXIF orientation, to RGB uint8.

Images become RGB uint8 (H, W, 3) at their own size whatever they are on
disk (grey, 16-bit, alpha, rotated by an EXIF tag, PNG, BMP, JPEG or TIFF),
the same way in training and at the station.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ssflow_runtime.errors import UserInputError

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
