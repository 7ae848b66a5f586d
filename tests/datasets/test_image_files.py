"""Images as they come: duplicate stems, 10/12-bit data in 16-bit files, EXIF orientation, TIFF, macOS debris."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ssflow.datasets.prepared import prepare_data
from ssflow_runtime.images import decode, significant_bits
from ssflow.datasets.images import load_split, read_image
from ssflow.datasets.listing import list_images
from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat
from ssflow_runtime.image_files import find_images


def test_duplicate_stems_in_an_image_folder_are_refused_naming_both(tmp_path: Path, image_writer) -> None:
    image_writer(tmp_path / "0001.bmp")
    image_writer(tmp_path / "0001.png")
    image_writer(tmp_path / "0002.png")
    with pytest.raises(UserInputError) as error:
        list_images(tmp_path)
    message = str(error.value)
    assert "\n" not in message and f"two files with stem '0001' in {tmp_path}: 0001.bmp and 0001.png" in message


@pytest.mark.parametrize(("bits", "suffix"), [(10, ".png"), (12, ".png"), (12, ".tif"), (16, ".png")])
def test_sixteen_bit_files_use_their_real_range(tmp_path: Path, bits: int, suffix: str) -> None:
    top = (1 << bits) - 1
    ramp = np.linspace(0, top, 64).round().astype(np.uint16).reshape(8, 8)
    ramp[0, 0] = top  # a camera frame reaches its top value somewhere
    path = tmp_path / f"frame{suffix}"
    assert cv2.imwrite(str(path), ramp)
    assert significant_bits(decode(path)) == bits
    image = read_image(path, 8)
    np.testing.assert_array_equal(image[..., 0], (ramp >> (bits - 8)).astype(np.uint8))
    assert image.max() == 255  # not almost black


def test_a_set_bit_depth_scales_every_16_bit_image_alike(tmp_path: Path) -> None:
    path = tmp_path / "dark.png"
    assert cv2.imwrite(str(path), np.full((8, 8), 600, np.uint16))  # a dark 12-bit frame: 600 fits 10 bits
    assert read_image(path, 8)[0, 0, 0] == 600 >> 2  # per image: read as 10-bit, 4x brighter than its siblings
    assert read_image(path, 8, bit_depth=12)[0, 0, 0] == 600 >> 4  # the camera's 12 bits, like every frame
    with pytest.raises(UserInputError) as error:
        read_image(path, 8, bit_depth=8)
    assert f"image file {path} holds values up to 600, above the 8-bit range of data.bit_depth=8" in str(error.value)
    with pytest.raises(UserInputError, match="data.bit_depth"):
        config_from_flat({"data.bit_depth": 11})


def test_the_data_of_a_run_is_read_at_its_bit_depth(tmp_path: Path) -> None:
    """Good frames at 600 and defective ones at 900, 12-bit data in 16-bit files, as a folder dataset."""
    for folder, count, value in (("good", 10, 600), ("crack", 4, 900)):
        (tmp_path / "parts" / "line" / folder).mkdir(parents=True)
        for index in range(count):
            frame = np.full((16, 16), value, np.uint16)
            assert cv2.imwrite(str(tmp_path / "parts" / "line" / folder / f"{index}.png"), frame)
    config = config_from_flat({"data.dataset": "folder", "data.root": str(tmp_path / "parts"),
                               "data.category": "line", "backbone.image_size": 32, "data.bit_depth": 12})
    data = prepare_data(config)
    assert data.train.max() == 600 >> 4
    tested = np.concatenate([data.selection.images, data.report.images])
    assert set(np.unique(tested)) == {600 >> 4, 900 >> 4}


def _oriented_jpeg(path: Path) -> np.ndarray:
    """A 40x20 (w x h) JPEG whose EXIF says rotate 90 degrees clockwise; returns the picture as displayed."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # left quarter white
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    return np.rot90(stored, k=-1)  # displayed: 20 wide, 40 high, top quarter white


def test_exif_orientation_is_applied_to_images_masks_and_predict(tmp_path: Path) -> None:
    displayed = _oriented_jpeg(tmp_path / "part.jpg")
    assert decode(tmp_path / "part.jpg").shape == (40, 20, 3)
    # A mask drawn on the picture as any viewer shows it (a plain PNG, no EXIF) fits it.
    mask = np.zeros((40, 20), np.uint8)
    mask[:10] = 255
    assert cv2.imwrite(str(tmp_path / "part_mask.png"), mask)
    images, masks, _ = load_split([ImageRecord(tmp_path / "part.jpg", tmp_path / "part_mask.png", 1, "cut")], 32)
    assert np.abs(images[0].astype(int) - cv2.resize(displayed, (32, 32))).max() < 40
    assert masks[0][:8].all() and not masks[0][8:].any()
    bright = images[0].mean(axis=(1, 2)) > 128
    np.testing.assert_array_equal(bright[:8], True)
    # predict reads through the same function
    np.testing.assert_array_equal(read_image(tmp_path / "part.jpg", 32), images[0])


def test_tiff_loads_wherever_png_does(tmp_path: Path, image_writer) -> None:
    png = image_writer(tmp_path / "a.png", seed=3)
    tif = tmp_path / "b.tif"
    assert cv2.imwrite(str(tif), cv2.imread(str(png)))
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.tif"]
    np.testing.assert_array_equal(read_image(tif, 16), read_image(png, 16))
    assert find_images([tmp_path]) == [png, tif]


def test_predict_skips_dot_files_and_macos_folders(tmp_path: Path, image_writer) -> None:
    good = image_writer(tmp_path / "images" / "part.png")
    nested = image_writer(tmp_path / "images" / "line2" / "part.tiff")
    image_writer(tmp_path / "images" / "._part.png")
    image_writer(tmp_path / "images" / "__MACOSX" / "images" / "._part.png")
    image_writer(tmp_path / "images" / ".thumbnails" / "part.png")
    assert find_images([tmp_path / "images"]) == [good]
    assert find_images([tmp_path / "images"], recursive=True) == [nested, good]
