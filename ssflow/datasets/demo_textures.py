"""Photographed textures: the surfaces of demo-hard (leather, marble, carpet, concrete).

Each image is a fresh piece of material photographed a little differently:
rotated, at another distance (scale), under another light (brightness, a
gradient across the frame, a colour cast). Normal images then vary the way
real photographs do, so a detector cannot flag every unusual pixel value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ssflow.datasets.canvas import (
    Size,
    Surface,
    SurfaceFn,
    as_frame,
    dark_backing,
    finish,
    fractal_noise,
    grid,
    jitter,
    mix,
    value_noise,
    whole,
)

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
    x, y = grid(frame)
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
    return finish(rng, view * _lighting(rng, frame, camera), camera.grain)


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
    light, dark = jitter(rng, (150, 96, 58), 8.0), jitter(rng, (96, 58, 34), 6.0)
    mottle = 0.5 + 0.2 * fractal_noise(rng, canvas, (_cells(canvas, 60 * unit), _cells(canvas, 20 * unit)))
    colour = mix(dark, light, mottle)
    return colour * (bumps * (1.0 - 0.3 * creases))[:, :, None]


def _marble_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Polished marble: a pale mottled ground crossed by long wavy grey veins that fade in and out."""
    x, y = grid(canvas)
    # Veins are level lines of a tilted ramp bent by slow noise; the ramp dominates the
    # noise's slope, so the lines run across the slab instead of closing into rings.
    turbulence = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (240, 120, 60, 30)), 0.5)
    phase = (x + 0.3 * y) / (70.0 * unit) + 0.6 * turbulence
    strength = np.clip(0.6 + 0.5 * fractal_noise(rng, canvas, (_cells(canvas, 120 * unit),)), 0.0, 1.0)
    veins = strength * np.exp(-(np.sin(np.pi * phase) / 0.12) ** 2)
    twin = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (200, 100, 50)), 0.5)
    hairlines = 0.5 * np.exp(-(np.sin(np.pi * ((y - 0.5 * x) / (50.0 * unit) + 0.5 * twin)) / 0.05) ** 2)
    ground = mix(jitter(rng, (212, 210, 204), 5.0), jitter(rng, (188, 188, 184), 5.0),
                  0.5 + 0.3 * fractal_noise(rng, canvas, (_cells(canvas, 70 * unit), _cells(canvas, 14 * unit))))
    vein_colour = jitter(rng, (110, 116, 114), 6.0)
    return mix(ground, vein_colour, 0.8 * veins + 0.4 * hairlines * strength)


def _carpet_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Tweed loop-pile carpet: rows of loops in a flecked mix of three yarns."""
    x, y = grid(canvas)
    period = 6.0 * unit
    row = np.floor(y / period)
    along = (x / period + 0.5 * (row % 2)) % 1.0  # alternate rows offset by half a loop
    across = y / period - row
    loops = (np.sin(np.pi * along) * np.sin(np.pi * across)) ** 0.6
    fibres = value_noise(rng, canvas, _cells(canvas, 1.5 * unit))
    shade = 0.55 + 0.45 * loops + 0.08 * fibres
    flecks = value_noise(rng, canvas, _cells(canvas, 4.0 * unit))
    base, dark, light = jitter(rng, (118, 112, 104)), jitter(rng, (58, 56, 60)), jitter(rng, (196, 188, 170))
    colour = np.where((flecks < -1.1)[:, :, None], dark, np.where((flecks > 1.2)[:, :, None], light, base))
    return colour * shade[:, :, None]


def _concrete_texture(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Ground concrete: mottled cement with cut aggregate stones of two kinds and small dark pores."""
    cement = fractal_noise(rng, canvas, tuple(_cells(canvas, f * unit) for f in (64, 32, 16, 4)))
    rgb = mix(jitter(rng, (132, 130, 126)), jitter(rng, (168, 166, 160)), 0.5 + 0.25 * cement)
    for colour, threshold in (((146, 136, 124), 1.2), ((96, 96, 100), 1.5)):
        stones = fractal_noise(rng, canvas, (_cells(canvas, 14 * unit), _cells(canvas, 7 * unit)), falloff=0.4)
        shade = jitter(rng, colour, 8.0) * (0.92 + 0.08 * cement[:, :, None])
        rgb = mix(rgb, shade, np.clip((stones - threshold) * 6.0, 0.0, 1.0))
    pores = value_noise(rng, canvas, _cells(canvas, 3.0 * unit))
    return mix(rgb, np.float32(62.0), np.clip((pores - 2.0) * 2.0, 0.0, 1.0))


def _photographed(texture: Texture, camera: Camera) -> SurfaceFn:
    """A surface function: a photographed texture covering the whole frame over a dark backing."""

    def surface(rng: np.random.Generator, size: Size) -> Surface:
        image = photograph(rng, size, texture, camera)
        return Surface(image, whole(size), dark_backing(rng, size))

    surface.__doc__ = texture.__doc__
    return surface


# Carpet is laid along its rows; the other materials are cut in any direction.
leather = _photographed(_leather_texture, Camera())
marble = _photographed(_marble_texture, Camera())
carpet = _photographed(_carpet_texture, Camera(max_rotation=12.0))
concrete = _photographed(_concrete_texture, Camera())
