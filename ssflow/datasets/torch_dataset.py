"""A thin ``torch.utils.data.Dataset`` over the arrays of :func:`ssflow.datasets.images.load_split`."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """Items (image float (3, S, S) in [0, 1], mask float (1, S, S) of 0/1, label int).

    Holds the arrays it is given; converts one item at a time.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, labels: np.ndarray) -> None:
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
        if masks.shape != images.shape[:3] or labels.shape != images.shape[:1]:
            raise ValueError(
                f"masks (N, S, S) and labels (N,) must match images {images.shape}, "
                f"got {masks.shape} and {labels.shape}"
            )
        self.images = images
        self.masks = masks
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        image = torch.from_numpy(np.ascontiguousarray(self.images[index].transpose(2, 0, 1))).float() / 255.0
        mask = torch.from_numpy(self.masks[index][None].astype(np.float32))
        return image, mask, int(self.labels[index])
