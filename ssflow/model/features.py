"""Running the frozen backbone over uint8 image arrays: per-level features, batched, on any device."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def images_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    else:
        tensor = tensor.to(device)
    return tensor.float().div_(255.0)


def _forward(backbone: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    if images.device.type != "cuda":
        return backbone(images)
    # On a GPU the frozen backbone runs in bf16 with channels-last tensors (tensor cores);
    # the flow, whose log-determinants need the precision, gets float32 features back.
    with torch.autocast("cuda", dtype=torch.bfloat16):
        levels = backbone(images.contiguous(memory_format=torch.channels_last))
    return [level.float().contiguous() for level in levels]


@torch.no_grad()
def extract_features(backbone: nn.Module, images: np.ndarray, device: torch.device,
                     batch_size: int = 32, out: list[torch.Tensor] | None = None,
                     offset: int = 0) -> list[torch.Tensor]:
    """Backbone features of every image, per level (N, C_l, H_l, W_l) float32, kept on ``device``.

    Each batch is written into tensors allocated once (no list of batches
    concatenated at the end, which held every feature twice: thousands of tiles
    of a high-resolution category are gigabytes). With ``out`` (per level,
    at least ``offset + N`` rows) the features go to rows ``offset:offset + N``
    of those tensors instead, and ``out`` is returned.
    """
    for start in range(0, len(images), batch_size):
        levels = _forward(backbone, images_to_tensor(images[start:start + batch_size], device))
        if out is None:
            out = [torch.empty((len(images), *level.shape[1:]), dtype=level.dtype, device=level.device)
                   for level in levels]
        for target, level in zip(out, levels):
            target[offset + start:offset + start + len(level)] = level
    if out is None:  # no image: nothing to size the levels from
        return []
    return out
