"""Synthetic validation anomalies: procedural defects painted on held-out normal images.

The selection objective of a small category rests on a handful of real test
images, so the noise between training seeds of one config is as large as the
differences a search looks for; a category without labelled defects has no
objective at all. This module makes a validation set from normal training
images that the run does not train on (``data.holdout_fraction``): each
held-out image appears once as it is (normal) and ``synthetic_per_image``
times with a painted defect (anomalous, with an exact pixel mask).

The defects come from another family than the training synthesis (which blends
patches of *other normal images* into an image): scratches, cracks, stains,
specks, foreign matter and worn (smoothed) patches drawn procedurally
(:mod:`ssflow.datasets.painters`), so the objective does not reward a flow
for recognising its own training corruption.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import cv2
import numpy as np

from ssflow.datasets.painters import DEFECTS, DefectStyle, apply_change
from ssflow.datasets.canvas import Surface

# Obvious and subtle kinds alike; every painted image draws one of them.
VALIDATION_DEFECTS: tuple[str, ...] = (
    "scratch", "crack", "spot", "contamination", "missing",
    "faint_scratch", "hairline_crack", "speck", "stain", "smooth",
)
# Smaller least change than the demo's 24 grey levels: subtle kinds stay subtle.
VALIDATION_STYLE = DefectStyle(min_delta=12)
_STREAM = 0x7A11D  # the painter's own random stream, apart from every other use of the split seed


def _surface(image: np.ndarray) -> Surface:
    """A normal image as a paintable surface: the whole frame is product; holes show a dark, blurred backing."""
    backing = (cv2.GaussianBlur(image, (0, 0), 6) * 0.25).astype(np.uint8)
    return Surface(image=image, support=np.ones(image.shape[:2], dtype=bool), fill=backing)


def paint_defect(image: np.ndarray, defect: str, rng: np.random.Generator,
                 style: DefectStyle = VALIDATION_STYLE) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (S, S, 3) uint8 with one ``defect`` painted on it, and its mask bool (S, S).

    The mask is exactly the set of changed pixels. Raises ``KeyError`` for an
    unknown defect name (see :data:`VALIDATION_DEFECTS`).
    """
    change = DEFECTS[defect](rng, _surface(image), style)
    return apply_change(image, change, style.min_delta)


def painted_set(images: np.ndarray, paths: Sequence[str], per_image: int,
                seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The validation set of held-out normal ``images`` (N, S, S, 3) uint8.

    Returns images uint8 (N * (1 + per_image), S, S, 3), masks bool (same N', S, S),
    labels int64 (N',) with 1 = painted, and a name per row (the source path,
    suffixed ``#<defect>-<k>`` for painted rows). Normal rows come first. Row
    ``k`` of image ``i`` draws from a generator seeded by ``seed``, the image's
    path and ``k``, so the set depends on nothing but those.
    """
    count, size = len(images), images.shape[1]
    total = count * (1 + per_image)
    out_images = np.empty((total, size, size, 3), dtype=np.uint8)
    out_masks = np.zeros((total, size, size), dtype=bool)
    labels = np.zeros(total, dtype=np.int64)
    out_images[:count] = images
    names = list(paths)
    row = count
    for index, (image, path) in enumerate(zip(images, paths)):
        for variant in range(per_image):
            rng = np.random.default_rng([seed, _STREAM, zlib.crc32(str(path).encode()), variant])
            defect = VALIDATION_DEFECTS[(index * per_image + variant) % len(VALIDATION_DEFECTS)]
            out_images[row], out_masks[row] = paint_defect(image, defect, rng)
            labels[row] = 1
            names.append(f"{path}#{defect}-{variant}")
            row += 1
    return out_images, out_masks, labels, tuple(names)
