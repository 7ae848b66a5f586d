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

import numpy as np

from ssflow.datasets.canvas import (
    Size,
    Surface,
    as_frame,
    dark_backing,
    finish,
    fractal_noise,
    grid,
    jitter,
    mix,
    rotated,
    value_noise,
    whole,
)


def fabric(rng: np.random.Generator, size: Size) -> Surface:
    """Plain-weave cloth: warp and weft threads alternating over and under, 10 px apart at any size."""
    frame = as_frame(size)
    u, v = rotated(rng, frame, 3.0)
    period = 10.0 + rng.uniform(-0.3, 0.3)
    cu, cv = np.floor(u / period), np.floor(v / period)
    fu, fv = u / period - cu, v / period - cv
    warp_on_top = ((cu + cv) % 2) == 0
    # Thread cross-section: bright in the middle, dark gaps between threads.
    warp = np.sin(np.pi * fu) ** 0.6 * (0.85 + 0.15 * np.sin(np.pi * fv))
    weft = np.sin(np.pi * fv) ** 0.6 * (0.85 + 0.15 * np.sin(np.pi * fu))
    shade = np.where(warp_on_top, warp, weft)
    fibres = 0.06 * value_noise(rng, frame, (frame.height // 4, frame.width // 4))  # 4 px cells
    warp_colour, weft_colour = jitter(rng, (52, 78, 140)), jitter(rng, (92, 118, 170))
    colour = np.where(warp_on_top[:, :, None], warp_colour, weft_colour)
    rgb = colour * (0.35 + 0.75 * shade + fibres)[:, :, None]
    image = finish(rng, rgb, 3.0)
    return Surface(image, whole(frame), dark_backing(rng, frame))


def wood(rng: np.random.Generator, size: Size) -> Surface:
    """Planed wood: growth rings bent by slow noise, fine fibres along the grain."""
    frame = as_frame(size)
    u, v = rotated(rng, frame, 4.0)
    bend = 14.0 * fractal_noise(rng, frame, (2, 4))
    period = 22.0 + rng.uniform(-2.0, 2.0)
    rings = 0.5 + 0.5 * np.sin(2 * np.pi * (v + bend) / period)
    late_wood = rings**4  # thin dark lines of the dense late wood
    # 3 px across the grain, a sixth of the side along it.
    fibres = value_noise(rng, frame, (frame.height // 3, frame.cells(6)[1]))
    light, dark = jitter(rng, (206, 158, 104)), jitter(rng, (128, 80, 42))
    rgb = mix(light, dark, 0.65 * late_wood + 0.12 * fibres + 0.1 * fractal_noise(rng, frame, (3,)))
    image = finish(rng, rgb, 2.5)
    return Surface(image, whole(frame), dark_backing(rng, frame))


def granite(rng: np.random.Generator, size: Size) -> Surface:
    """Polished granite: mottled grey-pink ground with dark and white grains (3 to 6 px on a 256 side)."""
    ground = fractal_noise(rng, size, (6, 12, 24, 48))
    base = mix(jitter(rng, (150, 140, 138)), jitter(rng, (196, 170, 160)), 0.5 + 0.25 * ground)
    grains = [
        (fractal_noise(rng, size, (40, 80)), 1.3, (38, 36, 40)),  # dark mica
        (fractal_noise(rng, size, (50, 100)), 1.6, (236, 232, 226)),  # quartz
        (fractal_noise(rng, size, (20, 40)), 1.1, (188, 128, 112)),  # pink feldspar
    ]
    for noise, threshold, colour in grains:
        weight = np.clip((noise - threshold) * 3.0, 0.0, 1.0)
        base = mix(base, jitter(rng, colour, 4.0), weight)
    image = finish(rng, base, 4.0)
    return Surface(image, whole(size), dark_backing(rng, size))


def washer(rng: np.random.Generator, size: Size) -> Surface:
    """A turned metal washer on a plain backdrop: an object, not a texture; centred, sized by the frame's side."""
    frame = as_frame(size)
    x, y = grid(frame)
    scale = frame.side / 256.0
    cx, cy = np.array([frame.width, frame.height]) / 2 + rng.uniform(-6, 6, size=2) * scale
    outer, inner = (88 + rng.uniform(-2, 2)) * scale, (38 + rng.uniform(-2, 2)) * scale
    radius = np.hypot(x - cx, y - cy)
    angle = np.arctan2(y - cy, x - cx)
    backdrop = mix(jitter(rng, (200, 204, 210), 4.0), jitter(rng, (172, 178, 186), 4.0), y / frame.height)
    background = finish(rng, backdrop, 2.0)
    light = rng.uniform(-np.pi, np.pi)
    # Turning leaves concentric marks: noise that depends on the radius only.
    # One value per half pixel of radius; the part's outer radius is under side / 2.
    profile = rng.standard_normal(frame.side, dtype=np.float32)
    marks = profile[np.clip((radius * 2).astype(int), 0, frame.side - 1)]
    shade = 0.72 + 0.16 * np.cos(angle - light) + 0.04 * marks
    bevel = np.clip(np.minimum(radius - inner, outer - radius) / (4 * scale), 0.0, 1.0)
    metal = jitter(rng, (150, 154, 160), 5.0) * (shade * (0.75 + 0.25 * bevel))[:, :, None]
    on_part = (radius >= inner) & (radius <= outer)
    # Anti-aliased rim: a one-pixel blend so the part does not look cut out.
    coverage = np.clip(np.minimum(radius - inner + 0.5, outer - radius + 0.5), 0.0, 1.0)[:, :, None]
    rgb = backdrop * (1 - coverage) + metal * coverage
    image = finish(rng, rgb, 2.0)
    return Surface(image, on_part, background)
