import re
from pathlib import Path

import pytest

from ssflow.datasets.dagm import list_dagm_categories, read_labels, scan_dagm
from ssflow.errors import UserInputError


def test_classes_in_number_order(dagm_root: Path) -> None:
    (dagm_root / "Class1_def").mkdir()  # older releases ship such folders: not a class
    assert list_dagm_categories(dagm_root) == ["Class1", "Class10"]


def test_scan_uses_only_normal_train_rows(dagm_root: Path) -> None:
    data = scan_dagm(dagm_root, "Class10")
    assert (data.dataset, data.category) == ("dagm", "Class10")
    assert [r.image_path.name for r in data.train] == ["0001.PNG", "0002.PNG", "0004.PNG"]
    assert all(r.label == 0 and r.mask_path is None and r.defect == "good" for r in data.train)


def test_scan_test_labels_and_masks(dagm_root: Path) -> None:
    data = scan_dagm(dagm_root, "Class1")
    label_dir = dagm_root / "Class1" / "Test" / "Label"
    summary = [(r.image_path.name, r.label, r.defect, r.mask_path) for r in data.test]
    assert summary == [
        ("0001.PNG", 0, "good", None),
        ("0002.PNG", 1, "defect", label_dir / "0002_label.PNG"),
        ("0003.PNG", 1, "defect", label_dir / "0003_label.PNG"),
    ]


def test_labels_with_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "Labels.txt"
    path.write_bytes("\ufeff1\r\n1\t0\t0001.PNG\t0\t0\r\n2\t1\t0002.PNG\t0\t0002_label.PNG\r\n\r\n".encode())
    rows = read_labels(path)
    assert [(r.line, r.defective, r.image, r.label) for r in rows] == [
        (2, False, "0001.PNG", None),
        (3, True, "0002.PNG", "0002_label.PNG"),
    ]


@pytest.mark.parametrize("row", ["3\t1\t0003.PNG\t0", "3\tyes\t0003.PNG\t0\t0", "x\t0\t0003.PNG\t0\t0"])
def test_malformed_row_names_file_and_line(dagm_root: Path, labels_writer, row: str) -> None:
    path = dagm_root / "Class1" / "Test" / "Label" / "Labels.txt"
    path.write_text(path.read_text().replace("3\t1\t0003.PNG\t0\t0003_label.PNG", row))
    with pytest.raises(UserInputError, match=rf"{re.escape(str(path))} line 4: expected 5 tab-separated fields"):
        scan_dagm(dagm_root, "Class1")


def test_missing_labels_file(dagm_root: Path) -> None:
    path = dagm_root / "Class1" / "Train" / "Label" / "Labels.txt"
    path.unlink()
    with pytest.raises(UserInputError, match=rf"missing {re.escape(str(path))}"):
        scan_dagm(dagm_root, "Class1")


def test_defective_test_row_without_label_file_names_the_image(dagm_root: Path) -> None:
    (dagm_root / "Class1" / "Test" / "Label" / "0003_label.PNG").unlink()
    with pytest.raises(UserInputError, match=r"Test/0003\.PNG has no mask.*0003_label\.PNG.*line 4"):
        scan_dagm(dagm_root, "Class1")


def test_defective_test_row_with_label_zero(dagm_root: Path, labels_writer) -> None:
    rows = [(1, 0, "0001.PNG", "0"), (2, 1, "0002.PNG", "0")]
    labels_writer(dagm_root / "Class1" / "Test" / "Label" / "Labels.txt", rows)
    with pytest.raises(UserInputError, match=r"0002\.PNG has no mask.*instead of 0 on line 3"):
        scan_dagm(dagm_root, "Class1")


def test_row_naming_an_absent_image(dagm_root: Path, labels_writer) -> None:
    labels_writer(dagm_root / "Class1" / "Train" / "Label" / "Labels.txt", [(1, 0, "0099.PNG", "0")])
    with pytest.raises(UserInputError, match=r"line 2 names 0099\.PNG, which is not an image"):
        scan_dagm(dagm_root, "Class1")


def test_no_normal_training_rows(dagm_root: Path, labels_writer) -> None:
    labels_writer(dagm_root / "Class1" / "Train" / "Label" / "Labels.txt", [(3, 1, "0003.PNG", "0003_label.PNG")])
    with pytest.raises(UserInputError, match="'Class1' has no training images"):
        scan_dagm(dagm_root, "Class1")


def test_no_test_rows(dagm_root: Path, labels_writer) -> None:
    labels_writer(dagm_root / "Class1" / "Test" / "Label" / "Labels.txt", [])
    with pytest.raises(UserInputError, match="'Class1' has no test images"):
        scan_dagm(dagm_root, "Class1")


def test_wrong_layout_and_unknown_class(dagm_root: Path) -> None:
    with pytest.raises(UserInputError, match=r"expected .*ClassN/Train/\*\.PNG.*looks like one class"):
        list_dagm_categories(dagm_root / "Class1")
    with pytest.raises(UserInputError, match="'Class2'.*found: Class1, Class10"):
        scan_dagm(dagm_root, "Class2")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"DAGM 2007 data root not found.*downloaded.*data.dataset demo works offline"):
        scan_dagm(tmp_path / "absent", "Class1")
