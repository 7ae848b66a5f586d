"""The whole detector as one module: uint8 pixels in, anomaly maps and image scores out.

``AnomalyPipeline`` chains what training and :mod:`ssflow.evaluation.evaluate` run in
steps (backbone, per-level standardiser and flow, level scores, upsampling and
fusion, Gaussian smoothing, image score) so that it can be exported as one
ONNX graph (:mod:`ssflow.deployment.onnx_export`) and timed as one call
(:mod:`ssflow.deployment.latency`). Its outputs equal ``score_features(flow,
extract_features(backbone, images))`` on CPU.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ssflow.model.anomaly_map import fused_maps, image_scores, smooth_with, smoothing_matrix
from ssflow.model.backbone import FeatureExtractor
from ssflow.settings.config import MapConfig
from ssflow.model.flow import MultiScaleFlow


class PipelineOutput(NamedTuple):
    anomaly_map: torch.Tensor  # (N, S, S) float32, higher = more anomalous
    score: torch.Tensor  # (N,) float32 image scores


class AnomalyPipeline(nn.Module):
    """``forward(images (N, 3, S, S) uint8 RGB) -> PipelineOutput`` for a trained flow on its backbone.

    The smoothing matrices are built once here and kept as buffers, so the
    forward pass (and an exported graph) smooths with two constant MatMuls.
    Only the flows' forward direction runs; log-determinants are computed by
    FrEIA but unused, and an exporter drops them from the graph.
    """

    def __init__(self, backbone: FeatureExtractor, flow: MultiScaleFlow, image_size: int,
                 map_config: MapConfig) -> None:
        super().__init__()
        if tuple(backbone.channels) != tuple(flow.channels):
            raise ValueError(f"backbone channels {list(backbone.channels)} do not match the flow's "
                             f"{list(flow.channels)}")
        self.backbone = backbone
        self.flow = flow.eval()
        self.image_size = image_size
        self.map_config = map_config
        sigma = map_config.smoothing_sigma
        self.smoothed = sigma > 0
        device = backbone.mean.device
        matrix = smoothing_matrix(image_size, sigma, device, torch.float32) if self.smoothed else torch.empty(0)
        self.register_buffer("smoothing", matrix, persistent=False)

    def forward(self, images: torch.Tensor) -> PipelineOutput:
        # Channels-last, as images_to_tensor's permuted NHWC arrays are: oneDNN's convolutions run ~1.7x
        # faster on CPU in that layout. An exported graph has no memory formats; this is a no-op there.
        pixels = images.float().contiguous(memory_format=torch.channels_last) / 255.0
        levels = self.backbone.normalised_features(pixels)
        maps = fused_maps(self.flow(levels), self.image_size, self.map_config.score)
        if self.smoothed:
            maps = smooth_with(maps, self.smoothing, self.smoothing)
        return PipelineOutput(maps, image_scores(maps, self.map_config, self.image_size ** 2))
