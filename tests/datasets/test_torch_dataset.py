import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ssflow.datasets.torch_dataset import ArrayDataset


def test_items_are_scaled_channel_first_tensors() -> None:
    images = np.zeros((3, 4, 4, 3), np.uint8)
    images[1, :, :, 2] = 255
    masks = np.zeros((3, 4, 4), bool)
    masks[1, 0, 0] = True
    dataset = ArrayDataset(images, masks, np.array([0, 1, 0]))
    image, mask, label = dataset[1]
    assert len(dataset) == 3 and label == 1
    assert image.shape == (3, 4, 4) and image.dtype == torch.float32
    assert image[2].eq(1.0).all() and image[:2].eq(0.0).all()
    assert mask.shape == (1, 4, 4) and mask.sum() == 1 and mask[0, 0, 0] == 1.0
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    assert batch[0].shape == (3, 3, 4, 4) and batch[2].tolist() == [0, 1, 0]


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="must match"):
        ArrayDataset(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4), bool), np.zeros(2))
