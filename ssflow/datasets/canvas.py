"""What a painter paints on: a surface (image, the product's pixels, what shows through a hole), its frame,
and the noise and colour helpers the demo surfaces and the defect painters share."""

from __future__ import annotations

from typing import Callable, NamedTuple

import cv2
import numpy as np


class Surface(NamedTuple):
    """One normal image and what a defect may do to it.

    image: RGB uint8 (H, W, 3).
    support: bool (H, W), the product's pixels (defects stay inside).
    fill: RGB uint8 (H, W, 3), what shows through where a piece is missing.
    """

    image: np.ndarray
    support: np.ndarray
    fill: np.ndarray


class Frame(NamedTuple):
    """The size of an image in pixels and the side its layout is drawn for.

    Features sized relative to the image (slow noise, a part's radius, a
    texture's unit) are sized relative to ``side``; fixed-pixel detail (thread
    period, fibres, sensor grain) is not. The square demo images have all three
    equal.
    """

    height: int
    width: int
    side: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.height, self.width

    def cells(self, count: int) -> tuple[int, int]:
        """(rows, cols) of noise cells so that one cell spans ``side / count`` pixels on both axes."""
        # count * height / side is exactly count on a square frame: the square images keep their bytes.
        return max(1, round(count * self.height / self.side)), max(1, round(count * self.width / self.side))


Size = int | Frame  # the side of a square image, or a Frame
SurfaceFn = Callable[[np.random.Generator, Size], Surface]


def as_frame(size: Size) -> Frame:
    """``size`` as a Frame: an int n is the square ``Frame(n, n, n)``."""
    return size if isinstance(size, Frame) else Frame(size, size, size)


def value_noise(rng: np.random.Generator, size: Size, cells: int | tuple[int, int]) -> np.ndarray:
    """Smooth noise float32 (H, W), about unit variance.

    ``cells``: random values per ``side`` pixels on both axes (an int, see :meth:`Frame.cells`),
    or (rows, cols) across the whole image.
    """
    frame = as_frame(size)
    rows, cols = frame.cells(cells) if isinstance(cells, int) else cells
    grid = rng.standard_normal((rows + 1, cols + 1)).astype(np.float32)
    return cv2.resize(grid, (frame.width, frame.height), interpolation=cv2.INTER_CUBIC)


def fractal_noise(rng: np.random.Generator, size: Size, cells: tuple[int, ...], falloff: float = 0.6) -> np.ndarray:
    """Sum of value noise octaves (``cells`` per side each), standardised to zero mean and unit std: (H, W) float32."""
    total = sum(falloff**octave * value_noise(rng, size, count) for octave, count in enumerate(cells))
    return ((total - total.mean()) / (total.std() + 1e-6)).astype(np.float32)


def grid(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates float32 (H, W) each: x (columns), y (rows)."""
    frame = as_frame(size)
    return np.meshgrid(np.arange(frame.width, dtype=np.float32), np.arange(frame.height, dtype=np.float32))


def rotated(rng: np.random.Generator, size: Size, max_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by a small random angle and shifted by a random offset."""
    x, y = grid(size)
    angle = np.float32(np.deg2rad(rng.uniform(-max_degrees, max_degrees)))
    offset = rng.uniform(0, 64, size=2).astype(np.float32)
    u = np.cos(angle) * x + np.sin(angle) * y + offset[0]
    v = -np.sin(angle) * x + np.cos(angle) * y + offset[1]
    return u, v


def mix(low: np.ndarray, high: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two RGB colours: t (H, W) in [0, 1] -> float32 (H, W, 3)."""
    t = np.clip(t, 0.0, 1.0, dtype=np.float32)[:, :, None]
    return low + (high - low) * t


def finish(rng: np.random.Generator, rgb: np.ndarray, grain: float) -> np.ndarray:
    """Add sensor noise and round float RGB (H, W, 3) to uint8."""
    # Grey noise: a third of the random numbers, and it looks the same.
    noise = grain * rng.standard_normal(rgb.shape[:2], dtype=np.float32)
    return np.clip(rgb + (noise + 0.5)[:, :, None], 0, 255).astype(np.uint8)


def dark_backing(rng: np.random.Generator, size: Size) -> np.ndarray:
    """What a hole in a flat material shows: a dark, slightly mottled underlay, RGB uint8 (H, W, 3)."""
    shade = np.clip(22.5 + 6.0 * value_noise(rng, size, 6), 0, 255).astype(np.uint8)
    return np.repeat(shade[:, :, None], 3, axis=2)


def whole(size: Size) -> np.ndarray:
    """A support of the whole frame: bool (H, W), all True (flat materials fill the image)."""
    return np.ones(as_frame(size).shape, bool)


def jitter(rng: np.random.Generator, colour: tuple[float, float, float], spread: float = 6.0) -> np.ndarray:
    """``colour`` with a random brightness shift and a smaller hue shift: the same product, another batch."""
    shift = rng.normal(0.0, spread) + rng.normal(0.0, spread / 3, 3)
    return (np.asarray(colour, np.float32) + shift).astype(np.float32)
