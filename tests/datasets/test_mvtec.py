import shutil
from pathlib import Path

import pytest

from ssflow.datasets.mvtec import list_mvtec_categories, scan_mvtec
from ssflow.errors import UserInputError


def test_lists_categories_with_train_good(mvtec_root: Path) -> None:
    assert list_mvtec_categories(mvtec_root) == ["bottle", "carpet"]


def test_scan_records(mvtec_root: Path) -> None:
    data = scan_mvtec(mvtec_root, "bottle")
    assert (data.dataset, data.category, data.root) == ("mvtec", "bottle", mvtec_root)
    assert [r.image_path.name for r in data.train] == ["000.png", "001.png", "002.png"]
    assert all(r.label == 0 and r.defect == "good" and r.mask_path is None for r in data.train)
    defects = sorted((r.defect, r.label) for r in data.test)
    assert defects == [("broken_large", 1)] * 2 + [("contamination", 1)] + [("good", 0)] * 2
    for record in data.test:
        if record.label:
            expected = mvtec_root / "bottle" / "ground_truth" / record.defect / f"{record.image_path.stem}_mask.png"
            assert record.mask_path == expected
        else:
            assert record.mask_path is None


def test_missing_root_names_place_and_download_hint(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found") as error:
        scan_mvtec(tmp_path / "nowhere", "bottle")
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message
    assert "downloaded" in message and "data.root" in message and "data.dataset demo" in message


def test_wrong_layout_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(UserInputError, match=r"expected .*<category>/train/good/\*\.png"):
        list_mvtec_categories(tmp_path)


def test_category_folder_passed_as_root_gets_a_hint(mvtec_root: Path) -> None:
    with pytest.raises(UserInputError, match="looks like one category, pass its parent"):
        list_mvtec_categories(mvtec_root / "bottle")


def test_unknown_category_lists_the_found_ones(mvtec_root: Path) -> None:
    with pytest.raises(UserInputError, match="'botle'.*found: bottle, carpet"):
        scan_mvtec(mvtec_root, "botle")


def test_category_without_training_images(mvtec_root: Path) -> None:
    for path in (mvtec_root / "carpet" / "train" / "good").iterdir():
        path.unlink()
    with pytest.raises(UserInputError, match="no training images"):
        scan_mvtec(mvtec_root, "carpet")


def test_category_without_test_images(mvtec_root: Path) -> None:
    shutil.rmtree(mvtec_root / "carpet" / "test")
    with pytest.raises(UserInputError, match="no test images"):
        scan_mvtec(mvtec_root, "carpet")


def test_missing_mask_names_the_image(mvtec_root: Path) -> None:
    (mvtec_root / "bottle" / "ground_truth" / "contamination" / "000_mask.png").unlink()
    with pytest.raises(UserInputError, match=r"contamination/000\.png has no mask.*000_mask\.png"):
        scan_mvtec(mvtec_root, "bottle")
