"""The whole detector as one module, and its latency."""

from __future__ import annotations

import math

import numpy as np
import torch

from ssflow.model.backbone import configured_backbone
from ssflow.evaluation.evaluate import score_features
from ssflow.model.features import extract_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.model.flow import MultiScaleFlow
from ssflow.deployment.latency import inference_latency_ms, time_calls
from ssflow.deployment.pipeline import AnomalyPipeline

CPU = torch.device("cpu")


def _model(size: int = 64):
    config = config_from_flat({"backbone.image_size": size, "flow.coupling_blocks": 2, "flow.hidden_channels": 8})
    backbone = configured_backbone(config, CPU)
    flow = MultiScaleFlow(backbone.channels, config.flow, seed=0)
    with torch.no_grad():  # leave the identity start: every coupling does something
        for parameter in flow.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    return config, backbone, flow.eval()


def test_pipeline_equals_the_stepwise_scoring_of_training() -> None:
    config, backbone, flow = _model()
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    maps, scores = score_features(flow, extract_features(backbone, images, CPU), 64, config.map)
    pipeline = AnomalyPipeline(backbone, flow, 64, config.map)
    with torch.inference_mode():
        output = pipeline(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous())
    assert output.anomaly_map.shape == (3, 64, 64) and output.score.shape == (3,)
    np.testing.assert_allclose(output.anomaly_map.numpy(), maps, rtol=1e-5)  # float32 summation order only
    np.testing.assert_allclose(output.score.numpy(), scores, rtol=1e-5)


def test_latency_is_a_median_of_timed_calls() -> None:
    config, backbone, flow = _model()
    milliseconds = inference_latency_ms(flow, backbone, 64, config.map, calls=3, warmup=1)
    assert math.isfinite(milliseconds) and 0 < milliseconds < 5000
    calls = []
    latency = time_calls(lambda: calls.append(1), calls=5, warmup=2)
    assert len(calls) == 7 and latency.calls == 5 and 0 <= latency.p50_ms <= latency.p95_ms
