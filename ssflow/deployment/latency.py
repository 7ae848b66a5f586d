"""Inference latency: milliseconds per image from pixels to anomaly map and image score.

:func:`time_calls` times any callable (used for every row of
``benchmarks/latency.py``); :func:`inference_latency_ms` times a trained flow
on its backbone at batch 1 through :class:`ssflow.deployment.pipeline.AnomalyPipeline`,
the same pipeline an ONNX export holds, cheaply enough (about a second on 2
CPU cores with the default config) to run at the end of every trial. The
number is the median over timed calls after untimed warm-up calls (the first
calls build oneDNN's kernels for the input shape); calls running beside it
on the same cores, as in a sweep, make it larger.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np
import torch

from ssflow.model.backbone import FeatureExtractor
from ssflow.settings.config import MapConfig
from ssflow.model.flow import MultiScaleFlow
from ssflow.deployment.pipeline import AnomalyPipeline


class Latency(NamedTuple):
    p50_ms: float  # median milliseconds per call
    p95_ms: float
    calls: int  # timed calls


def time_calls(run: Callable[[], object], calls: int = 10, warmup: int = 2,
               synchronize: Callable[[], None] | None = None) -> Latency:
    """Time ``calls`` calls of ``run`` after ``warmup`` untimed ones.

    ``synchronize`` (e.g. ``torch.cuda.synchronize``) runs after each call
    inside the timing, so asynchronous devices are timed to completion.
    """
    if calls < 1 or warmup < 0:
        raise ValueError(f"calls must be >= 1 and warmup >= 0, got {calls} and {warmup}")
    for _ in range(warmup):
        run()
        if synchronize is not None:
            synchronize()
    seconds = np.empty(calls)
    for index in range(calls):
        started = time.perf_counter()
        run()
        if synchronize is not None:
            synchronize()
        seconds[index] = time.perf_counter() - started
    milliseconds = seconds * 1000.0
    return Latency(float(np.median(milliseconds)), float(np.percentile(milliseconds, 95)), calls)


def random_images(image_size: int, count: int = 1, seed: int = 0) -> np.ndarray:
    """(count, 3, S, S) uint8 noise images: what the timing feeds the pipeline (content does not change the work)."""
    return np.random.default_rng(seed).integers(0, 256, (count, 3, image_size, image_size), dtype=np.uint8)


def pipeline_latency(pipeline: AnomalyPipeline, batch_size: int = 1, calls: int = 10, warmup: int = 2) -> Latency:
    """Milliseconds per call of ``pipeline`` on a batch of ``batch_size`` uint8 images, where the pipeline is.

    CUDA is synchronised after each call; autograd is off.
    """
    device = pipeline.backbone.mean.device
    images = torch.from_numpy(random_images(pipeline.image_size, batch_size)).to(device)
    synchronize = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    with torch.inference_mode():
        return time_calls(lambda: pipeline(images), calls, warmup, synchronize)


def inference_latency_ms(flow: MultiScaleFlow, backbone: FeatureExtractor, image_size: int, map_config: MapConfig,
                         calls: int = 10, warmup: int = 2, batch: int = 1) -> float:
    """Median milliseconds to score one image (batch 1): uint8 pixels to anomaly map and image score.

    ``batch`` > 1 times one call on that many inputs: the tiles of one image in
    tiled mode (:mod:`ssflow_runtime.tiling`; stitching, a few ms, is not timed); such
    calls are long, so then 3 calls after 1 warm-up are timed.

    Runs where ``backbone`` and ``flow`` are (both on one device, CPU or
    CUDA) with torch's current thread count; backbone, flow, map fusion,
    smoothing and image score included. About ``calls + warmup`` times one
    image's inference: 12 x ~30 ms with the default config on 2 CPU cores.
    Neither module is changed, except that the flow is put in eval mode as
    for scoring. Raises ``ValueError`` when the backbone's channels do not
    match the flow's.
    """
    pipeline = AnomalyPipeline(backbone, flow, image_size, map_config)
    if batch > 1:
        calls, warmup = min(calls, 3), min(warmup, 1)
    return pipeline_latency(pipeline, batch, calls, warmup).p50_ms
