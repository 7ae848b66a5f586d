"""Pixel anomaly maps and image scores from flow latents.

Per level and position, a score from the latent ``z``: ``density`` is the
paper's ``-mean_c exp(log N(z_c; 0, 1))``; ``nll`` is ``mean_c 0.5 z_c^2``
(monotone in the per-dimension NLL and far less saturated on CNN features).
Level maps are bilinearly upsampled to the input size, averaged over levels,
and smoothed with a Gaussian; the image score is the map's max (the paper) or
the mean of its top-k share of pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ssflow.settings.config import MapConfig
from ssflow.model.flow import HALF_LOG_TWO_PI, FlowOutput


def _density_score(z: torch.Tensor) -> torch.Tensor:
    return -torch.exp(-0.5 * z.pow(2) - HALF_LOG_TWO_PI).mean(1)


def _nll_score(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * z.pow(2).mean(1)


LEVEL_SCORES = {"density": _density_score, "nll": _nll_score}


def gaussian_kernel1d(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(math.ceil(4 * sigma)))
    x = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _reflect(index: torch.Tensor, n: int) -> torch.Tensor:
    """Indices outside [0, n) mirrored about the edges without repeating them (torch's ``reflect``)."""
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    folded = index.abs() % period
    return torch.where(folded >= n, period - folded, folded)


def smoothing_matrix(n: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(n, n) matrix ``M`` such that ``x @ M`` is ``x`` blurred along its last axis, reflect-padded."""
    kernel = gaussian_kernel1d(sigma, device)
    radius = kernel.numel() // 2
    outputs = torch.arange(n, device=device)
    sources = _reflect(outputs[:, None] + torch.arange(-radius, radius + 1, device=device)[None, :], n)
    matrix = torch.zeros(n, n, device=device, dtype=torch.float32)
    matrix.index_put_((sources.flatten(), outputs.repeat_interleave(kernel.numel())), kernel.repeat(n),
                      accumulate=True)
    return matrix.to(dtype)


def gaussian_smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, H, W) maps with reflect padding; sigma 0 is the identity.

    Each pass is one matrix product with a banded matrix: a single-channel
    convolution with a long kernel is several times slower on CPU, and maps
    are smoothed after every epoch for two test splits.
    """
    if sigma <= 0:
        return maps
    _, height, width = maps.shape
    rows = smoothing_matrix(height, sigma, maps.device, maps.dtype)
    columns = rows if width == height else smoothing_matrix(width, sigma, maps.device, maps.dtype)
    return smooth_with(maps, rows, columns)


def smooth_with(maps: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """(N, H, W) maps blurred by the :func:`smoothing_matrix` ``rows`` (H, H) and ``columns`` (W, W).

    Two matrix products, so an exported graph holds two MatMuls with constant matrices.
    """
    return torch.matmul(rows.T, maps @ columns)


def fused_maps(output: FlowOutput, image_size: int, score: str) -> torch.Tensor:
    """Per-level position scores, bilinearly upsampled and averaged, (N, image_size, image_size), unsmoothed."""
    level_score = LEVEL_SCORES[score]
    fused = None
    for z in output.z:
        level = F.interpolate(level_score(z)[:, None], size=(image_size, image_size), mode="bilinear",
                              align_corners=False)[:, 0]
        fused = level if fused is None else fused + level
    return fused / len(output.z)


def anomaly_maps(output: FlowOutput, image_size: int, config: MapConfig) -> torch.Tensor:
    """Fused, smoothed anomaly maps (N, image_size, image_size); higher is more anomalous."""
    return gaussian_smooth(fused_maps(output, image_size, config.score), config.smoothing_sigma)


def topk_count(pixels: int, share: float) -> int:
    """How many of a map's ``pixels`` the ``topk_mean`` image score averages (at least one)."""
    return max(1, int(round(share * pixels)))


def image_scores(maps: torch.Tensor, config: MapConfig, pixels: int | None = None) -> torch.Tensor:
    """One score per image (N,) from maps (N, H, W).

    ``pixels`` (H * W) may be given as a plain int where the shape is symbolic
    (an ONNX export traces it as a tensor).
    """
    flat = maps.flatten(1)
    if config.image_score == "max":
        return flat.max(1).values
    k = topk_count(flat.shape[1] if pixels is None else pixels, config.topk)
    return flat.topk(k, dim=1).values.mean(1)
