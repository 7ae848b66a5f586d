"""Reading images and masks from disk into fixed-size arrays.

Images become RGB uint8 (S, S, 3) whatever they are on disk (grey, 16-bit,
alpha); masks become bool (S, S). Non-square images are resized to a square,
as the reference implementation does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError


def decode(path: Path) -> np.ndarray:
    """The pixels of ``path`` as stored: (H, W) or (H, W, C), uint8 or uint16, BGR(A) channel order."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserInputError(f"cannot read image file {path}: {error.strerror or error}") from None
    # imdecode rather than imread: imread returns None for paths it cannot open on some platforms.
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if pixels is None or pixels.size == 0:
        raise UserInputError(f"image file {path} is not a readable image (corrupt or not an image format)")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise UserInputError(f"image file {path} has pixel type {pixels.dtype}; expected 8- or 16-bit integers")
    return pixels


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """Decoded pixels (H, W[, C]) -> RGB uint8 (H, W, 3); grey is repeated, alpha dropped."""
    pixels = _to_uint8(pixels)
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


def read_image(path: Path, size: int) -> np.ndarray:
    """Read ``path`` as RGB uint8 of shape (size, size, 3)."""
    return resize_square(to_rgb(decode(path)), size)


def read_mask(
    path: Path | None,
    size: int,
    image_shape: tuple[int, int] | None = None,
    *,
    image_path: Path | None = None,
) -> np.ndarray:
    """Read a ground-truth mask as bool (size, size); None gives an all-False mask.

    A pixel is anomalous when it exceeds half the mask's maximum, so 0/255,
    0/1 and slightly noisy (JPEG) masks all work. When ``image_shape`` (the
    original (H, W) of the image, named by ``image_path`` in errors) is given,
    a mask of another size is refused: it belongs to another image or the
    dataset copy is damaged.
    """
    if path is None:
        return np.zeros((size, size), dtype=bool)
    pixels = decode(path)
    if image_shape is not None and pixels.shape[:2] != tuple(image_shape):
        image = f"image {image_path}" if image_path is not None else "its image"
        raise UserInputError(
            f"mask {path} is {pixels.shape[1]}x{pixels.shape[0]} but {image} is "
            f"{image_shape[1]}x{image_shape[0]} (width x height); a mask must match its image"
        )
    if pixels.ndim == 3:
        pixels = pixels[:, :, :3].max(axis=2)  # alpha would mark every pixel
    peak = int(pixels.max())
    binary = (pixels > peak / 2).astype(np.uint8) if peak > 0 else np.zeros(pixels.shape, np.uint8)
    return resize_square(binary, size, cv2.INTER_NEAREST).astype(bool)


def load_split(records: Sequence[ImageRecord], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read records into images uint8 (N, S, S, 3), masks bool (N, S, S) and labels int64 (N,).

    Each mask is checked against the original size of its image.
    """
    images = np.empty((len(records), size, size, 3), dtype=np.uint8)
    masks = np.empty((len(records), size, size), dtype=bool)
    for index, record in enumerate(records):
        pixels = decode(record.image_path)
        images[index] = resize_square(to_rgb(pixels), size)
        masks[index] = read_mask(record.mask_path, size, pixels.shape[:2], image_path=record.image_path)
    labels = np.array([record.label for record in records], dtype=np.int64)
    return images, masks, labels
