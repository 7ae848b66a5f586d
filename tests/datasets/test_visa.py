"""VisA in its original archive layout, split by split_csv/1cls.csv."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ssflow.datasets import list_categories, load_category
from ssflow.datasets.images import load_split
from ssflow.datasets.visa import list_visa_categories, scan_visa
from ssflow.errors import UserInputError


def test_categories_and_records_follow_the_split_file(visa_root: Path) -> None:
    assert list_visa_categories(visa_root) == ["candle"]
    data = load_category("visa", visa_root, "candle")
    assert data.dataset == "visa" and len(data.train) == 6
    assert Counter((r.defect, r.label) for r in data.test) == {("good", 0): 3, ("anomaly", 1): 3}
    anomaly = next(r for r in data.test if r.label)
    assert anomaly.mask_path == visa_root / "candle" / "Data" / "Masks" / "Anomaly" / f"{anomaly.image_path.stem}.png"


def test_class_id_masks_mark_every_class(visa_root: Path) -> None:
    anomalies = [r for r in scan_visa(visa_root, "candle").test if r.label]
    _, masks, _ = load_split(anomalies[:1], 32)
    expected = np.zeros((32, 32), bool)
    expected[2:9, 2:9] = True  # class 1
    expected[20:25, 20:29] = True  # class 2
    np.testing.assert_array_equal(masks[0], expected)


def test_layout_mistakes_are_named(visa_root: Path) -> None:
    with pytest.raises(UserInputError, match=r"no VisA split file .*split_csv/1cls\.csv.*looks like one category"):
        list_categories("visa", visa_root / "candle")
    with pytest.raises(UserInputError, match="unknown VisA category 'pcb1'.*found: candle"):
        scan_visa(visa_root, "pcb1")
    (visa_root / "candle" / "Data" / "Masks" / "Anomaly" / "001.png").unlink()
    with pytest.raises(UserInputError, match=r"1cls\.csv line 12, column 'mask': .*001\.png is not a file"):
        scan_visa(visa_root, "candle")
    split = visa_root / "split_csv" / "1cls.csv"
    split.write_text(split.read_text().replace("candle,train,normal", "candle,train,anomaly", 1))
    with pytest.raises(UserInputError, match=r"line 2, column 'label': got 'anomaly', expected normal"):
        scan_visa(visa_root, "candle")


def test_train_on_visa(visa_root: Path, tmp_path: Path, run_train) -> None:
    metrics = run_train("visa", visa_root, "candle", tmp_path / "out")
    assert metrics["status"] == "finished" and 0.0 <= metrics["report"]["aupro"] <= 1.0
