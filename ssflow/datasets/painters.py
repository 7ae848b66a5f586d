"""Procedural defects for the generated demo datasets, with exact pixel masks.

A defect function proposes a :class:`Change` (which pixels, and what they
become) and :func:`apply_change` paints it, making sure every proposed pixel
really changes, so the ground-truth mask is exactly the set of changed pixels.
:class:`DefectStyle` scales contrast and size, so a subtler variant of the
dataset can reuse the same functions.

Sizes below are in pixels of a 256-pixel image; :attr:`DefectStyle.unit` says
how many image pixels that is. By default defects grow with the image (a
1024-pixel image gets four times the size); a fixed unit keeps them small on a
large image (``demo-hires``). Images may be non-square (H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import cv2
import numpy as np

from ssflow.datasets.canvas import Frame, Surface, value_noise


class Change(NamedTuple):
    """region: bool (H, W), the pixels to change; appearance: RGB uint8 (H, W, 3), read inside region."""

    region: np.ndarray
    appearance: np.ndarray


@dataclass(frozen=True)
class DefectStyle:
    """How strong the defects of a dataset variant are."""

    contrast: float = 1.0  # 1 = clearly visible; smaller values fade the defect into the surface
    scale: float = 1.0  # multiplies defect lengths, radii and line widths
    min_delta: int = 24  # least change of every masked pixel (largest over RGB), in 1..127
    # Image pixels per pixel of the base sizes; None: the image's shorter side / 256.
    unit: float | None = None


def _unit(surface: Surface, style: DefectStyle) -> float:
    """Image pixels per pixel of the base sizes (which are given for a 256-pixel image)."""
    # size / 256 is exact, so x * unit equals the former x * size / 256 to the bit: the square demos keep their bytes.
    return style.unit if style.unit is not None else min(surface.support.shape) / 256


# Oil, rust, grass-green paint, yellow glue: colours no demo product has.
_FOREIGN = np.array([[30, 28, 26], [150, 60, 30], [60, 150, 60], [220, 200, 50]], np.float32)

DefectFn = Callable[[np.random.Generator, Surface, DefectStyle], Change]


def _anchor(rng: np.random.Generator, surface: Surface, margin: int) -> np.ndarray:
    """A random point (x, y) in pixels on the product, at least ``margin`` pixels inside it and the frame."""
    height, width = surface.support.shape
    inner = np.zeros_like(surface.support, dtype=np.uint8)
    inner[margin:height - margin, margin:width - margin] = 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    inner &= cv2.erode(surface.support.astype(np.uint8), kernel, borderValue=1)
    candidates = np.flatnonzero(inner)
    if candidates.size == 0:  # a tiny product: anywhere on it
        candidates = np.flatnonzero(surface.support)
    index = candidates[rng.integers(candidates.size)]
    return np.array([index % width, index // width], dtype=np.float64)


def _blend(image: np.ndarray, colour: np.ndarray | float, alpha: float) -> np.ndarray:
    """``image`` (H, W, 3) uint8 moved towards ``colour`` (scalar, (3,) or (H, W, 3)) by ``alpha``."""
    return np.clip(image.astype(np.float32) * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def _stroke(surface: Surface, points: np.ndarray, thickness: int) -> np.ndarray:
    canvas = np.zeros(surface.support.shape, np.uint8)
    # LINE_8, not anti-aliased: every drawn pixel is fully part of the defect.
    cv2.polylines(canvas, [np.rint(points).astype(np.int32)], False, 1, thickness, cv2.LINE_8)
    return canvas.astype(bool)


def _frame(surface: Surface) -> Frame:
    """The surface's image size as a Frame (for noise with explicit cell counts)."""
    height, width = surface.support.shape
    return Frame(height, width, min(height, width))


def _ragged(rng: np.random.Generator, surface: Surface, centre: np.ndarray, radius: float,
            roughness: float) -> np.ndarray:
    """A bool (H, W) blob of about ``radius`` pixels around ``centre`` (x, y) with a noisy edge, on the product."""
    height, width = surface.support.shape
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    distance = np.hypot(x - centre[0], y - centre[1]) / radius
    # Noise cells about one radius wide: the edge wobbles at the scale of the blob itself.
    cells = (max(2, int(height / radius)), max(2, int(width / radius)))
    ragged = distance + roughness * value_noise(rng, _frame(surface), cells)
    return (ragged < 1.0) & surface.support


def scratch(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A thin, slightly bent line, lighter or darker than the surface."""
    unit = _unit(surface, style)
    length = rng.uniform(40, 100) * style.scale * unit
    start = _anchor(rng, surface, int(length / 2) // 2 + 4)
    direction = rng.uniform(0, np.pi)
    t = np.linspace(-0.5, 0.5, 6)[:, None]
    bend = rng.normal(0, 0.04) * (1 - (2 * t) ** 2) * length
    along = np.array([np.cos(direction), np.sin(direction)])
    across = np.array([-along[1], along[0]])
    points = start + t * length * along + bend * across
    thickness = max(1, round(int(rng.integers(2, 4)) * style.scale * unit))
    region = _stroke(surface, points, thickness) & surface.support
    target = np.float32(245 if rng.random() < 0.5 else 25)
    return Change(region, _blend(surface.image, target, 0.7 * style.contrast))


def spot(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A stain: a filled ellipse with a few satellite drops."""
    radius = rng.uniform(5, 12) * style.scale * _unit(surface, style)
    centre = _anchor(rng, surface, int(radius) + 6)
    canvas = np.zeros(surface.support.shape, np.uint8)
    axes = (max(1, int(radius)), max(1, int(radius * rng.uniform(0.5, 1.0))))
    cv2.ellipse(canvas, tuple(np.rint(centre).astype(int)), axes, rng.uniform(0, 180), 0, 360, 1, -1, cv2.LINE_8)
    for _ in range(int(rng.integers(0, 4))):
        offset = rng.normal(0, radius * 1.2, 2)
        drop = max(1, int(radius * rng.uniform(0.15, 0.35)))
        cv2.circle(canvas, tuple(np.rint(centre + offset).astype(int)), drop, 1, -1, cv2.LINE_8)
    region = canvas.astype(bool) & surface.support
    stain = np.array([70, 52, 30], np.float32) * rng.uniform(0.6, 1.2)
    return Change(region, _blend(surface.image, stain, 0.65 * style.contrast))


def _walk(rng: np.random.Generator, start: np.ndarray, heading: float, steps: int, step: float) -> np.ndarray:
    """Points (steps + 1, 2) of a random walk whose heading drifts at every step."""
    turns = heading + np.cumsum(rng.normal(0, 0.45, steps))
    moves = step * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return start + np.vstack([np.zeros((1, 2)), np.cumsum(moves, axis=0)])


def crack(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A dark jagged line: a random walk, sometimes with a thinner side branch."""
    unit = _unit(surface, style)
    steps, step = max(4, int(rng.integers(14, 26) * style.scale)), 4.0 * unit
    heading = rng.uniform(0, 2 * np.pi)
    trunk = _walk(rng, _anchor(rng, surface, int(steps * step) // 4 + 4), heading, steps, step)
    thickness = max(1, round(2 * style.scale * unit))
    region = _stroke(surface, trunk, thickness)
    if rng.random() < 0.5:
        branch = _walk(rng, trunk[len(trunk) // 2], heading + rng.choice([-0.9, 0.9]), steps // 2, step)
        region |= _stroke(surface, branch, max(1, thickness - 1))
    region &= surface.support
    return Change(region, _blend(surface.image, np.float32(12), 0.75 * style.contrast))


def missing(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A missing piece: an irregular hole showing what lies behind the product."""
    radius = rng.uniform(9, 18) * style.scale * _unit(surface, style)
    centre = _anchor(rng, surface, int(radius) + 4)
    corners = int(rng.integers(7, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = radius * rng.uniform(0.55, 1.0, corners)
    polygon = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    canvas = np.zeros(surface.support.shape, np.uint8)
    cv2.fillPoly(canvas, [np.rint(polygon).astype(np.int32)], 1, cv2.LINE_8)
    region = canvas.astype(bool) & surface.support
    if style.contrast >= 1:
        return Change(region, surface.fill)
    # Subtler: the backing only shows through partly, like a shallow chip.
    return Change(region, _blend(surface.image, surface.fill.astype(np.float32), style.contrast))


def contamination(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A blob of foreign material: an off-colour, textured smear with a ragged edge."""
    unit = _unit(surface, style)
    radius = rng.uniform(10, 20) * style.scale * unit
    centre = _anchor(rng, surface, int(radius) + 4)
    region = _ragged(rng, surface, centre, radius, 0.35)
    # One of the two palette colours farthest from the product's mean colour reads as foreign matter.
    mean = surface.image[surface.support].astype(np.float32).mean(axis=0)
    farthest = np.argsort(-np.linalg.norm(_FOREIGN - mean, axis=1))[:2]
    foreign = _FOREIGN[farthest[rng.integers(2)]] + rng.normal(0, 12, 3).astype(np.float32)
    # Blotches about 11 base pixels across: 24 per 256.
    height, width = surface.support.shape
    blotches = (int(24 * height / (256 * unit)), int(24 * width / (256 * unit)))
    texture = 0.8 + 0.2 * value_noise(rng, _frame(surface), blotches)[:, :, None]
    colour = np.clip(foreign * texture, 0, 255)
    return Change(region, _blend(surface.image, colour, 0.7 * style.contrast))


def _ragged_blob(rng: np.random.Generator, surface: Surface, radius: float, roughness: float = 0.35) -> np.ndarray:
    """A bool (H, W) blob of about ``radius`` pixels with a noisy edge, on the product."""
    centre = _anchor(rng, surface, int(radius) + 4)
    return _ragged(rng, surface, centre, radius, roughness)


def faint_scratch(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A one-pixel hairline scratch that only slightly lightens or darkens the surface."""
    unit = _unit(surface, style)
    length = rng.uniform(30, 90) * style.scale * unit
    start = _anchor(rng, surface, int(length / 2) // 2 + 4)
    direction = rng.uniform(0, np.pi)
    t = np.linspace(-0.5, 0.5, 6)[:, None]
    along = np.array([np.cos(direction), np.sin(direction)])
    across = np.array([-along[1], along[0]])
    points = start + t * length * along + rng.normal(0, 0.03) * (1 - (2 * t) ** 2) * length * across
    region = _stroke(surface, points, max(1, round(style.scale * unit))) & surface.support
    target = np.float32(245 if rng.random() < 0.5 else 25)
    return Change(region, _blend(surface.image, target, 0.22 * style.contrast))


def speck(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A small dark speck, a few pixels across: about one feature cell at stride 8."""
    radius = rng.uniform(3.5, 6.0) * style.scale * _unit(surface, style)
    centre = _anchor(rng, surface, int(radius) + 4)
    canvas = np.zeros(surface.support.shape, np.uint8)
    axes = (max(1, round(radius)), max(1, round(radius * rng.uniform(0.6, 1.0))))
    cv2.ellipse(canvas, tuple(np.rint(centre).astype(int)), axes, rng.uniform(0, 180), 0, 360, 1, -1, cv2.LINE_8)
    region = canvas.astype(bool) & surface.support
    colour = np.array([60, 48, 36], np.float32) * rng.uniform(0.7, 1.3)
    return Change(region, _blend(surface.image, colour, 0.45 * style.contrast))


# A slight shift of colour: water (darker, cooler), rust (warmer), oil (darker, yellower).
_TINTS = np.array([[-10, -6, 2], [10, -2, -10], [-8, -8, -16]], np.float32)


def stain(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A faint colour stain: a ragged patch whose colour moves by about ten grey levels."""
    region = _ragged_blob(rng, surface, rng.uniform(12, 26) * style.scale * _unit(surface, style))
    tint = _TINTS[rng.integers(len(_TINTS))] * rng.uniform(0.8, 1.3) * style.contrast
    return Change(region, np.clip(surface.image.astype(np.float32) + tint, 0, 255).astype(np.uint8))


def smooth(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """Texture flattened over a ragged patch, as if worn or pressed: the surface blurred there."""
    unit = _unit(surface, style)
    region = _ragged_blob(rng, surface, rng.uniform(14, 28) * style.scale * unit)
    sigma = rng.uniform(2.5, 4.0) * unit
    blurred = cv2.GaussianBlur(surface.image, (0, 0), sigma)
    # contrast < 1 keeps some of the texture: a partly worn patch.
    return Change(region, _blend(surface.image, blurred.astype(np.float32), min(1.0, style.contrast)))


def hairline_crack(rng: np.random.Generator, surface: Surface, style: DefectStyle) -> Change:
    """A short, thin, half-dark crack: a one-pixel random walk."""
    unit = _unit(surface, style)
    steps, step = max(4, int(rng.integers(8, 16) * style.scale)), 3.0 * unit
    start = _anchor(rng, surface, int(steps * step) // 4 + 4)
    trunk = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, step)
    region = _stroke(surface, trunk, max(1, round(style.scale * unit))) & surface.support
    return Change(region, _blend(surface.image, np.float32(12), 0.4 * style.contrast))


def apply_change(image: np.ndarray, change: Change, min_delta: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``change`` on ``image``; return (new image uint8 (H, W, 3), mask bool (H, W)).

    Proposed pixels that would change by less than ``min_delta`` (1..127) are
    pushed further (up on dark pixels, down on light ones, so at least one
    channel moves by the full amount), so the mask, the exact set of changed
    pixels, equals the proposed region.
    """
    rows, cols = np.nonzero(change.region)
    before = image[rows, cols].astype(np.int16)  # (P, 3): only the proposed pixels
    after = change.appearance[rows, cols].astype(np.int16)
    weak = np.abs(after - before).max(axis=1) < min_delta
    direction = np.where(before.mean(axis=1) < 128, 1, -1)[:, None]
    after = np.where(weak[:, None], before + direction * min_delta, after)
    result = image.copy()
    result[rows, cols] = np.clip(after, 0, 255).astype(np.uint8)
    return result, (result != image).any(axis=2)


DEFECTS: dict[str, DefectFn] = {
    "scratch": scratch,
    "spot": spot,
    "crack": crack,
    "missing": missing,
    "contamination": contamination,
    # subtle kinds, for demo-hard
    "faint_scratch": faint_scratch,
    "speck": speck,
    "stain": stain,
    "smooth": smooth,
    "hairline_crack": hairline_crack,
}
