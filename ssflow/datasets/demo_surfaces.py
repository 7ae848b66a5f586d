"""Procedural product surfaces for the generated demo datasets.

Each surface function draws one normal image of a product from a generator:
``surface(rng, size) -> Surface``. Two calls give two images that differ in
phase, offset, colour and noise but look like the same product. Everything is
vectorised numpy / cv2, a few milliseconds per 256x256 image.

``size`` is the side of a square image, or a :class:`Frame`: an image of any
height and width whose layout is drawn for a square of side ``Frame.side``. A
frame larger than its side is a wider view of the same material, with features
of the same size in pixels (``demo-hires``); ``size`` n is ``Frame(n, n, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _grid(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates float32 (H, W) each: x (columns), y (rows)."""
    frame = as_frame(size)
    return np.meshgrid(np.arange(frame.width, dtype=np.float32), np.arange(frame.height, dtype=np.float32))


def _rotated(rng: np.random.Generator, size: Size, max_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by a small random angle and shifted by a random offset."""
    x, y = _grid(size)
    angle = np.float32(np.deg2rad(rng.uniform(-max_degrees, max_degrees)))
    offset = rng.uniform(0, 64, size=2).astype(np.float32)
    u = np.cos(angle) * x + np.sin(angle) * y + offset[0]
    v = -np.sin(angle) * x + np.cos(angle) * y + offset[1]
    return u, v


def _jitter(rng: np.random.Generator, colour: tuple[float, float, float], spread: float = 6.0) -> np.ndarray:
    """``colour`` with a random brightness shift and a smaller hue shift: the same product, another batch."""
    shift = rng.normal(0.0, spread) + rng.normal(0.0, spread / 3, 3)
    return (np.asarray(colour, np.float32) + shift).astype(np.float32)


def _mix(low: np.ndarray, high: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two RGB colours: t (H, W) in [0, 1] -> float32 (H, W, 3)."""
    t = np.clip(t, 0.0, 1.0, dtype=np.float32)[:, :, None]
    return low + (high - low) * t


def _finish(rng: np.random.Generator, rgb: np.ndarray, grain: float) -> np.ndarray:
    """Add sensor noise and round float RGB (H, W, 3) to uint8."""
    # Grey noise: a third of the random numbers, and it looks the same.
    noise = grain * rng.standard_normal(rgb.shape[:2], dtype=np.float32)
    return np.clip(rgb + (noise + 0.5)[:, :, None], 0, 255).astype(np.uint8)


def _dark_backing(rng: np.random.Generator, size: Size) -> np.ndarray:
    """What a hole in a flat material shows: a dark, slightly mottled underlay, RGB uint8 (H, W, 3)."""
    shade = np.clip(22.5 + 6.0 * value_noise(rng, size, 6), 0, 255).astype(np.uint8)
    return np.repeat(shade[:, :, None], 3, axis=2)


def _whole(size: Size) -> np.ndarray:
    """A support of the whole frame: bool (H, W), all True (flat materials fill the image)."""
    return np.ones(as_frame(size).shape, bool)


def fabric(rng: np.random.Generator, size: Size) -> Surface:
    """Plain-weave cloth: warp and weft threads alternating over and under, 10 px apart at any size."""
    frame = as_frame(size)
    u, v = _rotated(rng, frame, 3.0)
    period = 10.0 + rng.uniform(-0.3, 0.3)
    cu, cv = np.floor(u / period), np.floor(v / period)
    fu, fv = u / period - cu, v / period - cv
    warp_on_top = ((cu + cv) % 2) == 0
    # Thread cross-section: bright in the middle, dark gaps between threads.
    warp = np.sin(np.pi * fu) ** 0.6 * (0.85 + 0.15 * np.sin(np.pi * fv))
    weft = np.sin(np.pi * fv) ** 0.6 * (0.85 + 0.15 * np.sin(np.pi * fu))
    shade = np.where(warp_on_top, warp, weft)
    fibres = 0.06 * value_noise(rng, frame, (frame.height // 4, frame.width // 4))  # 4 px cells
    warp_colour, weft_colour = _jitter(rng, (52, 78, 140)), _jitter(rng, (92, 118, 170))
    colour = np.where(warp_on_top[:, :, None], warp_colour, weft_colour)
    rgb = colour * (0.35 + 0.75 * shade + fibres)[:, :, None]
    image = _finish(rng, rgb, 3.0)
    return Surface(image, _whole(frame), _dark_backing(rng, frame))


def wood(rng: np.random.Generator, size: Size) -> Surface:
    """Planed wood: growth rings bent by slow noise, fine fibres along the grain."""
    frame = as_frame(size)
    u, v = _rotated(rng, frame, 4.0)
    bend = 14.0 * fractal_noise(rng, frame, (2, 4))
    period = 22.0 + rng.uniform(-2.0, 2.0)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (v + bend) / period)
    late_wood = rings**4  # thin dark lines of the dense late wood
    # 3 px across the grain, a sixth of the side along it.
    fibres = value_noise(rng, frame, (frame.height // 3, frame.cells(6)[1]))
    light, dark = _jitter(rng, (206, 158, 104)), _jitter(rng, (128, 80, 42))
    rgb = _mix(light, dark, 0.65 * late_wood + 0.12 * fibres + 0.1 * fractal_noise(rng, frame, (3,)))
    image = _finish(rng, rgb, 2.5)
    return Surface(image, _whole(frame), _dark_backing(rng, frame))


def granite(rng: np.random.Generator, size: Size) -> Surface:
    """Polished granite: mottled grey-pink ground with dark and white grains (3 to 6 px on a 256 side)."""
    ground = fractal_noise(rng, size, (6, 12, 24, 48))
    base = _mix(_jitter(rng, (150, 140, 138)), _jitter(rng, (196, 170, 160)), 0.5 + 0.25 * ground)
    grains = [
        (fractal_noise(rng, size, (40, 80)), 1.3, (38, 36, 40)),  # dark mica
        (fractal_noise(rng, size, (50, 100)), 1.6, (236, 232, 226)),  # quartz
        (fractal_noise(rng, size, (20, 40)), 1.1, (188, 128, 112)),  # pink feldspar
    ]
    for noise, threshold, colour in grains:
        weight = np.clip((noise - threshold) * 3.0, 0.0, 1.0)
        base = _mix(base, _jitter(rng, colour, 4.0), weight)
    image = _finish(rng, base, 4.0)
    return Surface(image, _whole(size), _dark_backing(rng, size))


def washer(rng: np.random.Generator, size: Size) -> Surface:
    """A turned metal washer on a plain backdrop: an object, not a texture; centred, sized by the frame's side."""
    frame = as_frame(size)
    x, y = _grid(frame)
    scale = frame.side / 256.0
    cx, cy = np.array([frame.width, frame.height]) / 2 + rng.uniform(-6, 6, size=2) * scale
    outer, inner = (88 + rng.uniform(-2, 2)) * scale, (38 + rng.uniform(-2, 2)) * scale
    radius = np.hypot(x - cx, y - cy)
    angle = np.arctan2(y - cy, x - cx)
    backdrop = _mix(_jitter(rng, (200, 204, 210), 4.0), _jitter(rng, (172, 178, 186), 4.0), y / frame.height)
    background = _finish(rng, backdrop, 2.0)
    light = rng.uniform(-np.pi, np.pi)
    # Turning leaves concentric marks: noise that depends on the radius only.
    # One value per half pixel of radius; the part's outer radius is under side / 2.
    profile = rng.standard_normal(frame.side, dtype=np.float32)
    marks = profile[np.clip((radius * 2).astype(int), 0, frame.side - 1)]
    shade = 0.72 + 0.16 * np.cos(angle - light) + 0.04 * marks
    bevel = np.clip(np.minimum(radius - inner, outer - radius) / (4 * scale), 0.0, 1.0)
    metal = _jitter(rng, (150, 154, 160), 5.0) * (shade * (0.75 + 0.25 * bevel))[:, :, None]
    on_part = (radius >= inner) & (radius <= outer)
    # Anti-aliased rim: a one-pixel blend so the part does not look cut out.
    coverage = np.clip(np.minimum(radius - inner + 0.5, outer - radius + 0.5), 0.0, 1.0)[:, :, None]
    rgb = backdrop * (1 - coverage) + metal * coverage
    image = _finish(rng, rgb, 2.0)
    return Surface(image, on_part, background)




# --- photographed textures: the surfaces of demo-hard -------------------------------------------
#
# Each image is a fresh piece of material photographed a little differently:
# rotated, at another distance (scale), under another light (brightness, a
# gradient across the frame, a colour cast). Normal images then vary the way
# real photographs do, so a detector cannot flag every unusual pixel value.

# texture(rng, canvas, unit) -> float32 RGB (canvas, canvas, 3), feature sizes in multiples of ``unit`` pixels.
Texture = Callable[[np.random.Generator, int, float], np.ndarray]


@dataclass(frozen=True)
class Camera:
    """How much the view and the light vary between images of one product."""

    max_rotation: float = 180.0  # degrees either way
    scale: tuple[float, float] = (0.85, 1.2)  # magnification range, drawn log-uniformly
    brightness: float = 0.07  # std of the log exposure gain
    gradient: float = 0.12  # largest light falloff across the frame, as a fraction
    cast: float = 0.02  # std of the per-channel white-balance gain
    grain: float = 3.0  # sensor noise std in grey levels


def _lighting(rng: np.random.Generator, size: Size, camera: Camera) -> np.ndarray:
    """Per-pixel light gain float32 (H, W, 3): exposure, a linear falloff and a colour cast."""
    frame = as_frame(size)
    x, y = _grid(frame)
    direction = rng.uniform(0, 2 * np.pi)
    # Over the longer side: in [-0.71, 0.71] on a square, less across a wide frame.
    across = (x - frame.width / 2) * np.cos(direction) + (y - frame.height / 2) * np.sin(direction)
    ramp = across / max(frame.shape)
    falloff = 1.0 + rng.uniform(0, camera.gradient) * ramp
    gain = np.exp(rng.normal(0.0, camera.brightness)) * falloff
    cast = 1.0 + rng.normal(0.0, camera.cast, 3).astype(np.float32)
    return (gain[:, :, None] * cast).astype(np.float32)


def photograph(rng: np.random.Generator, size: Size, texture: Texture, camera: Camera) -> np.ndarray:
    """An RGB uint8 (H, W, 3) view of ``texture``, rotated, scaled and lit at random.

    The texture is drawn on a canvas large enough that the rotated, scaled view
    never reaches its border, with feature sizes in pixels of a 256-pixel image
    (``unit`` = side / 256), so the scale of the material is set by the camera only.
    """
    frame = as_frame(size)
    angle = rng.uniform(-camera.max_rotation, camera.max_rotation)
    low, high = np.log(camera.scale[0]), np.log(camera.scale[1])
    scale = float(np.exp(rng.uniform(low, high)))
    # The square on the longer side covers the frame at any rotation (and is exact on square images).
    canvas = int(np.ceil(max(frame.shape) * np.sqrt(2) / scale)) + 4
    rgb = texture(rng, canvas, frame.side / 256.0)
    matrix = cv2.getRotationMatrix2D((canvas / 2, canvas / 2), angle, scale)
    # The canvas centre lands on the image centre.
    matrix[:, 2] += (np.array([frame.width, frame.height]) - canvas) / 2
    view = cv2.warpAffine(rgb, matrix, (frame.width, frame.height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
    return _finish(rng, view * _lighting(rng, frame, camera), camera.grain)


def _cells(canvas: int, feature: float) -> int:
    """Noise cells per side so that one cell spans about ``feature`` pixels."""
    return max(2, int(round(canvas / feature)))


def _leather_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Pebbled grain: rounded bumps with dark creases between them, and a few long folds."""
    pebble = 7.0 * unit
    # One bump per grid cell, placed at random inside it: even coverage without clumps.
    centres = np.arange(0.0, canvas, pebble)
    cx, cy = np.meshgrid(centres, centres)
    points = np.stack([cx.ravel(), cy.ravel()], axis=1) + rng.uniform(0.1, 0.9, (cx.size, 2)) * pebble
    points = np.clip(points, 0, canvas - 1).astype(int)
    seeds = np.full((canvas, canvas), 255, np.uint8)
    seeds[points[:, 1], points[:, 0]] = 0
    # Distance to the nearest bump centre: small on a bump, largest on the creases between bumps.
    distance = cv2.distanceTransform(seeds, cv2.DIST_L2, 5) / pebble
    bumps = 1.0 - 0.6 * np.clip(distance, 0.0, 1.0) ** 2
    folds = fractal_noise(rng, canvas, (_cells(canvas, 90 * unit), _cells(canvas, 45 * unit)))
    creases = np.exp(-(folds / 0.06) ** 2)  # thin lines where the slow noise crosses zero
    light, dark = _jitter(rng, (150, 96, 58), 8.0), _jitter(rng, (96, 58, 34), 6.0)
    mottle = 0.5 + 0.2 * fractal_noise(rng, canvas, (_cells(canvas, 60 * unit), _cells(canvas, 20 * unit)))
    colour = _mix(dark, light, mottle)
    return colour * (bumps * (1.0 - 0.3 * creases))[:, :, None]


def _marble_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Polished marble: a pale mottled ground crossed by long wavy grey veins that fade in and out."""
    x, y = _grid(canvas)
    # Veins are level lines of a tilted ramp bent by slow noise; the ramp dominates the
    # noise's slope, so the lines run across the slab instead of closing into rings.
    turbulence = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (240, 120, 60, 30)), 0.5)
    phase = (x + 0.3 * y) / (70.0 * unit) + 0.6 * turbulence
    strength = np.clip(0.6 + 0.5 * fractal_noise(rng, canvas, (_cells(canvas, 120 * unit),)), 0.0, 1.0)
    veins = strength * np.exp(-(np.sin(np.pi * phase) / 0.12) ** 2)
    twin = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (200, 100, 50)), 0.5)
    hairlines = 0.5 * np.exp(-(np.sin(np.pi * ((y - 0.5 * x) / (50.0 * unit) + 0.5 * twin)) / 0.05) ** 2)
    ground = _mix(_jitter(rng, (212, 210, 204), 5.0), _jitter(rng, (188, 188, 184), 5.0),
                  0.5 + 0.3 * fractal_noise(rng, canvas, (_cells(canvas, 70 * unit), _cells(canvas, 14 * unit))))
    vein_colour = _jitter(rng, (110, 116, 114), 6.0)
    return _mix(ground, vein_colour, 0.8 * veins + 0.4 * hairlines * strength)


def _carpet_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Tweed loop-pile carpet: rows of loops in a flecked mix of three yarns."""
    x, y = _grid(canvas)
    period = 6.0 * unit
    row = np.floor(y / period)
    along = (x / period + 0.5 * (row % 2)) % 1.0  # alternate rows offset by half a loop
    across = y / period - row
    loops = (np.sin(np.pi * along) * np.sin(np.pi * across)) ** 0.6
    fibres = value_noise(rng, canvas, _cells(canvas, 1.5 * unit))
    shade = 0.55 + 0.45 * loops + 0.08 * fibres
    flecks = value_noise(rng, canvas, _cells(canvas, 4.0 * unit))
    base, dark, light = _jitter(rng, (118, 112, 104)), _jitter(rng, (58, 56, 60)), _jitter(rng, (196, 188, 170))
    colour = np.where((flecks < -1.1)[:, :, None], dark, np.where((flecks > 1.2)[:, :, None], light, base))
    return colour * shade[:, :, None]


def _concrete_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Ground concrete: mottled cement with cut aggregate stones of two kinds and small dark pores."""
    cement = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (64, 32, 16, 4)))
    rgb = _mix(_jitter(rng, (132, 130, 126)), _jitter(rng, (168, 166, 160)), 0.5 + 0.25 * cement)
    for colour, threshold in (((146, 136, 124), 1.2), ((96, 96, 100), 1.5)):
        stones = fractal_noise(rng, canvas, (_cells(canvas, 14 * unit), _cells(canvas, 7 * unit)), falloff=0.4)
        shade = _jitter(rng, colour, 8.0) * (0.92 + 0.08 * cement[:, :, None])
        rgb = _mix(rgb, shade, np.clip((stones - threshold) * 6.0, 0.0, 1.0))
    pores = value_noise(rng, canvas, _cells(canvas, 3.0 * unit))
    return _mix(rgb, np.float32(62.0), np.clip((pores - 2.0) * 2.0, 0.0, 1.0))


def _photographed(texture: Texture, camera: Camera) -> SurfaceFn:
    """A surface function: a photographed texture covering the whole frame over a dark backing."""

    def surface(rng: np.random.Generator, size: Size) -> Surface:
        image = photograph(rng, size, texture, camera)
        return Surface(image, _whole(size), _dark_backing(rng, size))

    surface.__doc__ = texture.__doc__
    return surface


# Carpet is laid along its rows; the other materials are cut in any direction.
leather = _photographed(_leather_texture, Camera())
marble = _photographed(_marble_texture, Camera())
carpet = _photographed(_carpet_texture, Camera(max_rotation=12.0))
concrete = _photographed(_concrete_texture, Camera())


SURFACES: dict[str, SurfaceFn] = {
    "fabric": fabric, "wood": wood, "granite": granite, "washer": washer,  # demo
    "leather": leather, "marble": marble, "carpet": carpet, "concrete": concrete,  # demo-hard
}
