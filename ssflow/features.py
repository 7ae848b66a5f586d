"""Running the frozen backbone over uint8 image arrays."""

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


@torch.no_grad()
def extract_features(backbone: nn.Module, images: np.ndarray, device: torch.device,
                     batch_size: int = 32) -> list[torch.Tensor]:
    """Backbone features of every image, per level (N, C_l, H_l, W_l), kept on ``device``."""
    per_batch: list[list[torch.Tensor]] = []
    for start in range(0, len(images), batch_size):
        per_batch.append(backbone(images_to_tensor(images[start:start + batch_size], device)))
    return [torch.cat(level) for level in zip(*per_batch)]
