"""Masks as they come: every common encoding, lossy files, other sizes, thin defects."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from ssflow.datasets.images import load_split, read_mask
from ssflow.datasets.masks import binarize, fits_image, reduce_mask
from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError

SIDE = 48


def _write(path: Path, pixels: np.ndarray, *params: int) -> Path:
    assert cv2.imwrite(str(path), pixels, list(params))
    return path


def _two_defects() -> tuple[np.ndarray, np.ndarray]:
    """Where the defects are (bool) and a label image with class 1 on the first, class 3 on the second."""
    classes = np.zeros((SIDE, SIDE), np.uint8)
    classes[4:14, 6:20] = 1
    classes[30:44, 28:40] = 3
    return classes > 0, classes


@pytest.mark.parametrize("encoding", ["0/1", "0/255", "class ids", "LOCO grey levels", "16-bit 0/65535"])
def test_every_lossless_encoding_reads_the_same_pixels(tmp_path: Path, encoding: str) -> None:
    truth, classes = _two_defects()
    pixels = {
        "0/1": truth.astype(np.uint8),
        "0/255": truth.astype(np.uint8) * 255,
        # VisA: one id per defect class, several classes in one mask; id 1 is below half of id 3.
        "class ids": classes,
        # MVTec LOCO: one grey level near 255 per defect type.
        "LOCO grey levels": np.where(classes == 1, 238, np.where(classes == 3, 255, 0)).astype(np.uint8),
        "16-bit 0/65535": truth.astype(np.uint16) * 65535,
    }[encoding]
    mask = read_mask(_write(tmp_path / "mask.png", pixels), SIDE, image_shape=(SIDE, SIDE))
    np.testing.assert_array_equal(mask, truth)


def test_jpeg_compression_noise_is_not_a_defect(tmp_path: Path) -> None:
    truth, _ = _two_defects()
    path = _write(tmp_path / "mask.jpg", truth.astype(np.uint8) * 255, cv2.IMWRITE_JPEG_QUALITY, 60)
    stored = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert ((stored > 0) & ~truth).sum() > 20  # the file really carries noise outside the defects
    np.testing.assert_array_equal(read_mask(path, SIDE), truth)
    # The content decides, not the name: a JPEG saved as .png is still read as lossy.
    disguised = tmp_path / "mask.png"
    disguised.write_bytes(path.read_bytes())
    np.testing.assert_array_equal(read_mask(disguised, SIDE), truth)


def test_colour_masks_count_any_channel() -> None:
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[1, 2] = (0, 0, 128)  # a red-drawn defect in BGR
    assert binarize(colour, lossy=False).tolist() == (colour.max(axis=2) > 0).tolist()


def test_mask_with_the_aspect_ratio_of_its_image_is_resized_to_it(tmp_path: Path, image_writer) -> None:
    image = image_writer(tmp_path / "image.png", side=64)
    half = np.zeros((32, 32), np.uint8)
    half[8:16, 8:24] = 255
    mask = read_mask(_write(tmp_path / "half.png", half), 64, image_shape=(64, 64))
    expected = np.zeros((64, 64), bool)
    expected[16:32, 16:48] = True
    np.testing.assert_array_equal(mask, expected)
    assert fits_image((1024, 1224), (2048, 2448)) and fits_image((341, 512), (1024, 1536))
    assert not fits_image((64, 64), (64, 96)) and not fits_image((96, 64), (64, 96))
    images, masks, _ = load_split([ImageRecord(image, tmp_path / "half.png", 1, "cut")], 64)
    np.testing.assert_array_equal(masks[0], expected)


def test_every_mismatched_mask_is_named_in_one_line(tmp_path: Path, image_writer) -> None:
    records = []
    for index in range(5):
        image = image_writer(tmp_path / f"image{index}.png", side=32)
        # the first proportional (accepted), the others of another shape
        shape = (16, 16) if index == 0 else (32, 20 + index)
        records.append(ImageRecord(image, _write(tmp_path / f"mask{index}.png", np.zeros(shape, np.uint8)), 1, "cut"))
    with pytest.raises(UserInputError) as error:
        load_split(records, 16)
    message = str(error.value)
    assert "\n" not in message and message.startswith("4 masks do not fit their images: ")
    for index in (1, 2, 3):
        assert re.search(rf"mask{index}\.png is {20 + index}x32 but image .*image{index}\.png is 32x32", message)
    assert "mask4.png" not in message and "and 1 more" in message and "mask0.png" not in message


def _scratch(side: int) -> np.ndarray:
    """A 2-pixel wide slanted scratch across a (side, side) mask."""
    mask = np.zeros((side, side), np.uint8)
    cv2.line(mask, (side // 16, side // 3), (side - side // 16, side // 2), 255, thickness=2)
    return mask


def test_thin_defect_stays_one_region_at_the_model_resolution(tmp_path: Path) -> None:
    full = _scratch(1024)
    assert ndimage.label(full > 0, structure=np.ones((3, 3)))[1] == 1
    # What nearest-neighbour sampling makes of it: dozens of specks, each a region for AUPRO.
    nearest = cv2.resize(full, (256, 256), interpolation=cv2.INTER_NEAREST)
    assert ndimage.label(nearest > 0, structure=np.ones((3, 3)))[1] > 24
    mask = read_mask(_write(tmp_path / "scratch.png", full), 256, image_shape=(1024, 1024))
    assert ndimage.label(mask, structure=np.ones((3, 3)))[1] == 1
    # Every defect pixel is inside the reduced mask: nothing of the scratch is lost.
    enlarged = cv2.resize(mask.astype(np.uint8), (1024, 1024), interpolation=cv2.INTER_NEAREST)
    assert enlarged[full > 0].all()


def test_reduction_of_non_square_masks_and_enlarging() -> None:
    wide = np.zeros((100, 400), bool)
    wide[50, 10:390] = True  # one-pixel line in a mask shrunk in width, enlarged in height
    reduced = reduce_mask(wide, 200)
    assert reduced.shape == (200, 200) and ndimage.label(reduced, structure=np.ones((3, 3)))[1] == 1
    small = np.zeros((8, 8), bool)
    small[2:4, 2:4] = True
    assert reduce_mask(small, 32).sum() == 8 * 8
