"""MVTec AD 2: train/good for training, test_public (with masks) for selection and report."""

from collections import Counter
from pathlib import Path

import pytest

from ssflow.datasets import list_categories, load_category
from ssflow.datasets.mvtec_ad2 import scan_mvtec_ad2
from ssflow.errors import UserInputError


def test_records_of_the_public_test_set(mvtec_ad2_root: Path) -> None:
    assert list_categories("mvtec-ad2", mvtec_ad2_root) == ["vial"]
    data = load_category("mvtec-ad2", mvtec_ad2_root, "vial")
    assert data.dataset == "mvtec-ad2"
    assert [r.image_path.parent.name for r in data.train] == ["good"] * 6  # validation/ and test_private/ unused
    assert Counter((r.defect, r.label) for r in data.test) == {("good", 0): 3, ("bad", 1): 3}
    for record in (r for r in data.test if r.label):
        assert record.mask_path.name == f"{record.image_path.stem}_mask.png"


def test_layout_mistakes_are_named(mvtec_ad2_root: Path) -> None:
    with pytest.raises(UserInputError, match="no MVTec AD 2 categories.*looks like one category"):
        list_categories("mvtec-ad2", mvtec_ad2_root / "vial")
    (mvtec_ad2_root / "vial" / "test_public" / "ground_truth" / "bad" / "001_overexposed_mask.png").unlink()
    with pytest.raises(UserInputError, match=r"bad/001_overexposed\.png has no mask.*001_overexposed_mask\.png"):
        scan_mvtec_ad2(mvtec_ad2_root, "vial")


def test_train_on_mvtec_ad2(mvtec_ad2_root: Path, tmp_path: Path, run_train) -> None:
    metrics = run_train("mvtec-ad2", mvtec_ad2_root, "vial", tmp_path / "out")
    assert metrics["status"] == "finished" and 0.0 <= metrics["report"]["aupro"] <= 1.0
