"""Tile layouts, cutting and stitching (ssflow_runtime.tiling)."""

from __future__ import annotations

import numpy as np
import pytest

from ssflow.settings.config import DataConfig
from ssflow.errors import UserInputError
from ssflow_runtime.tiling import axis_starts, cut_tiles, image_score, plan_layout, stitch


@pytest.mark.parametrize("length, tile, overlap", [(1000, 256, 0.25), (640, 128, 0.0), (300, 256, 0.5),
                                                    (256, 256, 0.25), (1001, 100, 0.74)])
def test_tiles_cover_the_axis_and_the_last_is_aligned_to_the_border(length: int, tile: int, overlap: float) -> None:
    starts = axis_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] == length - tile
    assert all(b > a for a, b in zip(starts, starts[1:]))
    gaps = np.diff(starts)
    assert (gaps <= round(tile * (1 - overlap))).all()  # no uncovered pixel between tiles
    covered = np.zeros(length, dtype=bool)
    for start in starts:
        covered[start:start + tile] = True
    assert covered.all()


@pytest.mark.parametrize("height, width, tile", [(600, 1000, 256), (257, 300, 128), (128, 1024, 128)])
def test_stitching_a_constant_map_is_constant_everywhere(height: int, width: int, tile: int) -> None:
    layout = plan_layout(height, width, tile, 0.25)
    assert layout.tile_count > 1
    tile_maps = np.full((layout.tile_count, 64, 64), 0.7, dtype=np.float32)
    for shape in [(height, width), layout.model_shape(64), (height // 3, width // 2)]:
        stitched = stitch(tile_maps, layout, shape)
        assert stitched.shape == shape
        np.testing.assert_allclose(stitched, 0.7, rtol=0, atol=1e-6)  # last row and column included


def test_stitching_crops_of_one_map_gives_that_map_back_without_seams() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((300, 520)).astype(np.float32)
    layout = plan_layout(300, 520, 100, 0.3)
    tile_maps = np.stack([truth[top:top + h, left:left + w] for top, left, h, w in layout.tiles])
    np.testing.assert_allclose(stitch(tile_maps, layout), truth, atol=1e-5)


def test_keep_aspect_pads_by_reflection_and_crops_the_map_back() -> None:
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, :, 0] = np.arange(300)[None, :] % 256
    layout = plan_layout(100, 300, keep_aspect=True)
    assert (layout.canvas_height, layout.canvas_width, layout.pad_top) == (300, 300, 100)
    tiles = cut_tiles(image, layout, 300)
    np.testing.assert_array_equal(tiles[0][100:200], image)  # the image sits in the middle, unresized
    np.testing.assert_array_equal(tiles[0][99], image[1])  # reflected, not black
    tile_map = np.zeros((1, 300, 300), dtype=np.float32)
    tile_map[0, 100:200] = 1.0  # only the image's rows are 1
    np.testing.assert_allclose(stitch(tile_map, layout), 1.0)


def test_squash_is_one_input_of_the_whole_image() -> None:
    layout = plan_layout(100, 300)
    assert layout.tiles == ((0, 0, 100, 300),) and layout.model_shape(64) == (64, 64)
    assert cut_tiles(np.zeros((100, 300, 3), np.uint8), layout, 64).shape == (1, 64, 64, 3)


@pytest.mark.parametrize("settings, words", [
    ({"tile_size": 512}, "'data.tile_size': got 512, larger than image"),
    ({"tile_size": 64, "tile_overlap": 0.75}, "'data.tile_overlap': got 0.75, expected a fraction in [0, 0.75)"),
])
def test_impossible_tiles_are_refused_naming_key_value_and_range(settings: dict, words: str) -> None:
    with pytest.raises(UserInputError, match=".*") as raised:
        plan_layout(400, 600, **settings)
    assert words in str(raised.value) and "\n" not in str(raised.value)
    if "tile_size" in settings and settings["tile_size"] == 512:
        assert "[32, 400]" in str(raised.value)


@pytest.mark.parametrize("field, value, words", [
    ("tile_size", 16, "'data.tile_size': got 16, expected 0 (whole image) or an integer in [32,"),
    ("tile_overlap", -0.1, "'data.tile_overlap': got -0.1, expected a fraction in [0, 0.75)"),
    ("tile_overlap", 0.8, "'data.tile_overlap': got 0.8"),
    ("scale", 0.0, "'data.scale': got 0.0, expected a number in [0.05, 4.0]"),
])
def test_config_refuses_tiles_below_the_stride_and_overlaps_outside_the_range(field: str, value: float,
                                                                              words: str) -> None:
    with pytest.raises(UserInputError) as raised:
        DataConfig(**{field: value})
    assert words in str(raised.value)


def test_the_top_k_share_is_of_one_tile_so_a_small_defect_counts_as_in_whole_image_mode() -> None:
    layout = plan_layout(600, 1000, 200, 0.0)
    stitched = np.zeros((600, 1000), dtype=np.float32)
    stitched[410:412, 630:635] = 1.0  # 10 px inside the tile at (400, 600)
    # 1 % of one 200 x 200 tile is 400 pixels, 10 of them at 1; over the whole image 1 % would be 6000
    assert image_score(stitched, "topk_mean", 0.01, layout) == pytest.approx(10 / 400)
    assert image_score(stitched, "topk_mean", 0.01) == pytest.approx(10 / 6000)
    assert image_score(stitched, "max", 0.01, layout) == 1.0
    half = np.zeros((300, 500), dtype=np.float32)  # the same map stitched at half resolution
    half[205, 315:318] = 1.0
    assert image_score(half, "topk_mean", 0.01, layout) == pytest.approx(3 / 100)
