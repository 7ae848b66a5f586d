from pathlib import Path

import pytest

from ssflow.datasets.btad import list_btad_categories, scan_btad
from ssflow.errors import UserInputError


def test_lists_products(btad_root: Path) -> None:
    assert list_btad_categories(btad_root) == ["01", "02", "03"]


@pytest.mark.parametrize("product", ["01", "02", "03"])
def test_scan_pairs_masks_by_stem_whatever_the_suffix(btad_root: Path, btad_suffixes, product: str) -> None:
    image_suffix, mask_suffix = btad_suffixes[product]
    data = scan_btad(btad_root, product)
    assert (data.dataset, data.category) == ("btad", product)
    assert len(data.train) == 3 and all(r.label == 0 and r.defect == "good" for r in data.train)
    assert all(r.image_path.suffix == image_suffix for r in data.train + data.test)
    normal = [r for r in data.test if r.label == 0]
    anomalous = [r for r in data.test if r.label == 1]
    assert len(normal) == 2 and all(r.mask_path is None and r.defect == "good" for r in normal)
    assert len(anomalous) == 2 and all(r.defect == "ko" for r in anomalous)
    for record in anomalous:
        masks = btad_root / product / "ground_truth" / "ko"
        assert record.mask_path == masks / f"{record.image_path.stem}{mask_suffix}"


def test_upper_case_suffixes_are_images(btad_root: Path) -> None:
    ko = btad_root / "02" / "test" / "ko"
    (ko / "0001.png").rename(ko / "0001.PNG")
    masks = btad_root / "02" / "ground_truth" / "ko"
    (masks / "0001.png").rename(masks / "0001.BMP")
    record = [r for r in scan_btad(btad_root, "02").test if r.image_path.name == "0001.PNG"][0]
    assert record.mask_path == masks / "0001.BMP"


def test_missing_root_hints_at_download_and_demo(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"BTAD data root not found.*downloaded.*given as data.root .data.dataset demo works offline"):
        list_btad_categories(tmp_path / "absent")


def test_archive_parent_passed_as_root_gets_a_hint(btad_root: Path) -> None:
    with pytest.raises(UserInputError, match="expected .*<product>/train/ok.*pass .*BTech_Dataset_transformed"):
        list_btad_categories(btad_root.parent)


def test_unknown_product(btad_root: Path) -> None:
    with pytest.raises(UserInputError, match="'04'.*found: 01, 02, 03"):
        scan_btad(btad_root, "04")


def test_missing_mask_names_the_image(btad_root: Path) -> None:
    (btad_root / "03" / "ground_truth" / "ko" / "0001.bmp").unlink()
    with pytest.raises(UserInputError, match=r"03/test/ko/0001\.bmp has no mask"):
        scan_btad(btad_root, "03")


def test_empty_training_folder(btad_root: Path) -> None:
    for path in (btad_root / "01" / "train" / "ok").iterdir():
        path.unlink()
    with pytest.raises(UserInputError, match="'01' has no training images"):
        scan_btad(btad_root, "01")


def test_two_masks_with_one_stem_are_refused(btad_root: Path, mask_writer) -> None:
    mask_writer(btad_root / "02" / "ground_truth" / "ko" / "0000.bmp")
    with pytest.raises(UserInputError, match="two files with stem '0000'"):
        scan_btad(btad_root, "02")
