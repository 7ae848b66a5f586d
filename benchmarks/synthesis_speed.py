"""Time :func:`ssflow.training.synthesis.synthesize_batch` on a batch of 16 images of 256x256.

Run: ``.venv/bin/python benchmarks/synthesis_speed.py``. Uses one OpenCV
thread so the number reflects one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import cv2
import numpy as np

from ssflow.settings.config import BLEND_MODES, SynthesisConfig
from ssflow.training.synthesis import synthesize_batch


def textured_batch(count: int, side: int, seed: int) -> np.ndarray:
    """(count, side, side, 3) uint8 smooth random textures."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(count, side // 8, side // 8, 3)).astype(np.float32)
    images = [cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC) for item in noise]
    return np.clip(128 + 40 * np.stack(images), 0, 255).astype(np.uint8)


def seconds_per_batch(images: np.ndarray, config: SynthesisConfig, repeats: int, seed: int) -> float:
    """Median wall time of one ``synthesize_batch`` call."""
    rng = np.random.default_rng(seed)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        synthesize_batch(images, config, rng)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    images = textured_batch(args.batch, args.side, seed=0)
    for blend in BLEND_MODES:
        config = dataclasses.replace(SynthesisConfig(), blend=blend)
        seconds = seconds_per_batch(images, config, args.repeats, seed=1)
        print(f"{blend:8s} {args.batch} x {args.side}x{args.side}: {1000 * seconds:.1f} ms per batch")


if __name__ == "__main__":
    main()
