"""Images as model inputs (tiles, padding, squash) and masks at the metric resolution."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ssflow.datasets.model_inputs import METRIC_PIXEL_BUDGET, MIN_REGION_PX, load_inputs, metric_factor, smallest_region
from ssflow_runtime.model_inputs import InputSettings
from ssflow.datasets.records import ImageRecord
from ssflow.evaluation.metrics import pixel_metrics
from ssflow_runtime.tiling import plan_layout


def test_the_metric_resolution_follows_the_smallest_region_between_model_and_native() -> None:
    layouts = [plan_layout(600, 1000, 200, 0.25)]  # 64-px inputs: the model sees 0.32 px per image pixel
    assert metric_factor(layouts, 64, None) == pytest.approx(0.32)  # no region: the model's resolution
    assert metric_factor(layouts, 64, 30) == pytest.approx(0.32)  # 30 px regions are 9.6 px there already
    assert metric_factor(layouts, 64, 5) == pytest.approx(MIN_REGION_PX / 5)  # 5 px regions: 3 px across
    assert metric_factor(layouts, 64, 1) == 1.0  # never finer than the image itself
    huge = [plan_layout(4000, 4000, 256, 0.25)] * 10
    assert metric_factor(huge, 256, 1) == pytest.approx((METRIC_PIXEL_BUDGET / 1.6e8) ** 0.5)


def test_smallest_region_is_the_narrower_side_of_the_smallest_component() -> None:
    mask = np.zeros((50, 80), dtype=bool)
    mask[10:14, 10:40] = True  # 4 x 30
    mask[30:37, 60:69] = True  # 7 x 9
    assert smallest_region([None, mask, np.zeros((5, 5), bool)]) == 4
    assert smallest_region([None]) is None


def _write(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return path


@pytest.mark.parametrize("settings", [InputSettings(64), InputSettings(64, keep_aspect=True),
                                      InputSettings(64, tile_size=96)])
def test_images_of_different_sizes_load_in_every_mode(tmp_path: Path, settings: InputSettings) -> None:
    rng = np.random.default_rng(0)
    records = []
    for index, (height, width) in enumerate([(192, 384), (240, 200), (192, 384)]):
        image = _write(tmp_path / f"{index}.png", rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
        mask = np.zeros((height, width), np.uint8)
        mask[50:58, 100:110] = 255
        records.append(ImageRecord(image, _write(tmp_path / f"{index}_mask.png", mask), 1, "spot"))
    loaded = load_inputs(records, settings)
    assert isinstance(loaded.masks, tuple) and [m.shape for m in loaded.masks][0] != loaded.masks[1].shape
    assert len(loaded.tiles) == sum(layout.tile_count for layout in loaded.layouts)
    model = max(max(l.model_shape(64)[0] / l.height, l.model_shape(64)[1] / l.width) for l in loaded.layouts)
    factor = max(model, MIN_REGION_PX / 8)  # 8 px regions: 3/8 of the image's resolution, or the model's if finer
    for layout, mask in zip(loaded.layouts, loaded.masks):
        assert mask.shape == (round(layout.height * factor), round(layout.width * factor)) and mask.any()


def test_ragged_pixel_metrics_equal_the_stacked_ones() -> None:
    rng = np.random.default_rng(1)
    maps = rng.random((3, 20, 30))
    masks = np.zeros((3, 20, 30), dtype=bool)
    masks[0, 2:5, 3:9] = masks[2, 10:15, 20:22] = True
    masks[1, 0:2, 0:2] = True
    maps[masks] += 0.3
    stacked = pixel_metrics(maps, masks)
    ragged = pixel_metrics(list(maps), list(masks))
    assert ragged == pytest.approx(stacked, abs=1e-12)
    # a region at the right edge of image 0 and the left edge of image 1 stays two regions
    shapes = pixel_metrics([maps[0], maps[1][:, :10]], [masks[0], masks[1][:, :10]])
    assert 0.0 <= shapes[1] <= 1.0
