"""Heatmap overlays of anomaly maps on their images, for people to look at."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def heatmap_overlay(image: np.ndarray, anomaly_map: np.ndarray, low: float, high: float,
                    mask: np.ndarray | None = None, opacity: float = 0.45) -> np.ndarray:
    """Blend a JET heatmap of ``anomaly_map`` (H, W) over ``image`` (H, W, 3) uint8 RGB.

    ``low``/``high`` fix the colour scale so overlays of one model compare; the
    ground-truth ``mask`` (H, W) bool, when given, is outlined in white.
    """
    scaled = np.clip((anomaly_map - low) / max(high - low, 1e-12), 0.0, 1.0)
    heat = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    blended = (image.astype(np.float32) * (1 - opacity) + heat.astype(np.float32) * opacity).astype(np.uint8)
    if mask is not None and mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        blended = np.ascontiguousarray(blended)
        cv2.drawContours(blended, contours, -1, (255, 255, 255), 1)
    return blended


def side_by_side(image: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """The input and its overlay next to each other, (H, 2W, 3)."""
    return np.concatenate([image, overlay], axis=1)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write ``rgb`` (H, W, 3) uint8 as a PNG at ``path``, whatever bytes its name holds.

    Encoded in memory and written by Python: OpenCV's ``imwrite`` takes a ``str`` and crashes
    (SIGSEGV) on a name that is not valid UTF-8. Raises ``OSError`` when encoding or writing fails.
    """
    encoded, buffer = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not encoded:
        raise OSError(f"could not encode {path!r} as PNG")
    Path(path).write_bytes(buffer.tobytes())
