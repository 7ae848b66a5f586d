import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssflow.datasets.images import load_split, read_image, read_mask
from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError


def _write(path: Path, pixels: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), pixels)
    return path


def test_colour_image_is_rgb_and_resized(tmp_path: Path) -> None:
    bgr = np.zeros((40, 40, 3), np.uint8)
    bgr[:, :, 0] = 200  # blue in cv2's BGR order
    image = read_image(_write(tmp_path / "blue.png", bgr), 16)
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    assert (image[:, :, 2] == 200).all() and (image[:, :, :2] == 0).all()


def test_grey_sixteen_bit_and_alpha_images_become_rgb_uint8(tmp_path: Path) -> None:
    grey = read_image(_write(tmp_path / "grey.png", np.full((8, 8), 77, np.uint8)), 8)
    assert (grey == 77).all() and grey.shape == (8, 8, 3)
    deep = read_image(_write(tmp_path / "deep.png", np.full((8, 8), 100 * 256, np.uint16)), 8)
    assert deep.dtype == np.uint8 and (deep == 100).all()
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[:, :, 1] = 50
    bgra[:, :, 3] = 255
    assert (read_image(_write(tmp_path / "alpha.png", bgra), 8) == [0, 50, 0]).all()


def test_enlarging_and_other_formats(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    for suffix in (".bmp", ".jpg", ".PNG"):
        image = read_image(_write(tmp_path / f"small{suffix}", pixels), 32)
        assert image.shape == (32, 32, 3)


@pytest.mark.parametrize("content, reason", [(b"this is not a png", "is not a readable image"),
                                             (b"", r"is empty \(0 bytes\)")])
def test_corrupt_image_names_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=rf"{re.escape(str(path))} {reason}"):
        read_image(path, 16)


def test_missing_image_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="cannot read image file .*absent.png"):
        read_image(tmp_path / "absent.png", 16)


def test_mask_none_is_all_false() -> None:
    mask = read_mask(None, 12)
    assert mask.shape == (12, 12) and mask.dtype == bool and not mask.any()


@pytest.mark.parametrize("high", [255, 1])
def test_mask_binarised_and_reduced(tmp_path: Path, high: int) -> None:
    pixels = np.zeros((32, 32), np.uint8)
    pixels[:16, :8] = high
    mask = read_mask(_write(tmp_path / "mask.png", pixels), 8, image_shape=(32, 32))
    expected = np.zeros((8, 8), bool)
    expected[:4, :2] = True
    assert mask.dtype == bool and (mask == expected).all()


def test_mask_of_other_size_than_its_image(tmp_path: Path, mask_writer) -> None:
    mask = mask_writer(tmp_path / "m.png", side=20)
    with pytest.raises(UserInputError, match=r"m\.png is 20x20 but image .*i\.png is 32x24"):
        read_mask(mask, 16, image_shape=(24, 32), image_path=tmp_path / "i.png")


def test_load_split_shapes_and_mask_check(tmp_path: Path, image_writer, mask_writer) -> None:
    grey = image_writer(tmp_path / "b.bmp", seed=2, grey=True)
    records = (
        ImageRecord(image_writer(tmp_path / "a.png", seed=1), None, 0, "good"),
        ImageRecord(grey, mask_writer(tmp_path / "b_mask.png"), 1, "cut"),
    )
    images, masks, labels = load_split(records, 16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert masks.shape == (2, 16, 16) and masks.dtype == bool
    assert not masks[0].any() and masks[1].sum() == 5 * 5  # the 9x9 box at half size
    assert labels.tolist() == [0, 1]
    wide = _write(tmp_path / "wide_mask.png", np.zeros((20, 64), np.uint8))
    wrong = ImageRecord(records[1].image_path, wide, 1, "cut")
    with pytest.raises(UserInputError, match=r"wide_mask\.png is 64x20 but image .*b\.bmp is 32x32"):
        load_split((wrong,), 16)


def test_load_split_of_nothing() -> None:
    images, masks, labels = load_split((), 8)
    assert images.shape == (0, 8, 8, 3) and masks.shape == (0, 8, 8) and labels.shape == (0,)
