"""Shifted test sets: demo-hard-lighting, MVTec AD 2's mixed-lighting split, a second root's test images."""

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssflow.datasets import load_category
from ssflow.datasets.demo import DEMO_HARD, DEMO_HARD_LIGHTING, generate_demo
from ssflow.datasets.registry import load_shifted_test
from ssflow.errors import UserInputError

SMALL = {"size": 64, "train": 2, "test_ok": 2, "test_ko": 3, "categories": ("carpet",)}


def _read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_demo_hard_lighting_relights_demo_hard_test_images_only(tmp_path: Path) -> None:
    regular = generate_demo(tmp_path / "regular", settings=dataclasses.replace(DEMO_HARD, **SMALL))
    shifted = generate_demo(tmp_path / "shifted", settings=dataclasses.replace(DEMO_HARD_LIGHTING, **SMALL))
    files = sorted(p.relative_to(regular) for p in regular.rglob("*.png"))
    assert files == sorted(p.relative_to(shifted) for p in shifted.rglob("*.png"))
    for name in files:
        before, after = _read(regular / name), _read(shifted / name)
        if name.parts[1] in ("train", "ground_truth"):
            assert np.array_equal(before, after), name  # same training images, same masks
        else:
            change = np.abs(after.astype(int) - before.astype(int)).mean()
            assert change > 5, name  # every test image under another light
            brightness = after.mean() / before.mean()
            assert 0.6 < brightness < 1.4 and not 0.9 < brightness < 1.1, name


def test_a_second_root_gives_its_test_images(tmp_path: Path) -> None:
    shifted = generate_demo(tmp_path / "shifted", settings=dataclasses.replace(DEMO_HARD_LIGHTING, **SMALL))
    records = load_shifted_test("demo-hard", shifted, "carpet")
    assert sorted(r.label for r in records) == [0, 0, 1, 1, 1]
    assert all(r.image_path.is_relative_to(shifted) for r in records)


def test_a_shifted_root_in_another_layout_is_refused_naming_it(tmp_path: Path, mvtec_root: Path) -> None:
    with pytest.raises(UserInputError) as caught:
        load_shifted_test("demo-hard", mvtec_root, "carpet")
    message = str(caught.value)
    assert str(mvtec_root) in message and "demo-hard layout" in message and "\n" not in message
    with pytest.raises(UserInputError, match=f"shifted test set {tmp_path / 'absent'}"):
        load_shifted_test("mvtec", tmp_path / "absent", "bottle")


def test_a_shifted_root_without_defects_is_refused(tmp_path: Path) -> None:
    only_normal = dataclasses.replace(DEMO_HARD_LIGHTING, **{**SMALL, "test_ko": 0})
    root = generate_demo(tmp_path / "shifted", settings=only_normal)
    with pytest.raises(UserInputError, match=r"expected normal and anomalous test images, found 2 normal and 0"):
        load_shifted_test("demo-hard", root, "carpet")


def test_mvtec_ad2_reads_a_labelled_mixed_lighting_split(mvtec_ad2_root: Path, image_writer, mask_writer) -> None:
    mixed = mvtec_ad2_root / "vial" / "test_private_mixed"
    image_writer(mixed / "000_mixed.png", seed=50, grey=True)  # as distributed: flat and unlabelled
    assert load_category("mvtec-ad2", mvtec_ad2_root, "vial").shifted_test == ()
    (mixed / "000_mixed.png").unlink()
    for index in range(2):
        image_writer(mixed / "good" / f"{index:03d}_mixed.png", seed=60 + index, grey=True)
        image_writer(mixed / "bad" / f"{index:03d}_mixed.png", seed=70 + index, grey=True)
        mask_writer(mixed / "ground_truth" / "bad" / f"{index:03d}_mixed_mask.png")
    data = load_category("mvtec-ad2", mvtec_ad2_root, "vial")
    assert sorted((r.label, r.image_path.parent.name) for r in data.shifted_test) == \
        [(0, "good"), (0, "good"), (1, "bad"), (1, "bad")]
    assert len(data.test) == 6  # the regular split unchanged
    assert [r.label for r in load_shifted_test("mvtec-ad2", mvtec_ad2_root, "vial")] == [0, 0, 1, 1]


def test_train_reports_the_shifted_metrics_beside_the_report_split(tmp_path: Path, run_train) -> None:
    sizes = {**SMALL, "train": 4, "test_ok": 4, "test_ko": 4}
    regular = generate_demo(tmp_path / "regular", settings=dataclasses.replace(DEMO_HARD, **sizes))
    shifted = generate_demo(tmp_path / "shifted", settings=dataclasses.replace(DEMO_HARD_LIGHTING, **sizes))
    metrics = run_train("btad", regular, "carpet", tmp_path / "out", "--shifted-test", str(shifted))
    relit = metrics["shifted_test"]
    assert relit["source"] == str(shifted) and relit["paired_with_report"] is True and relit["images"] == 4
    assert set(relit["metrics"]) == {"image_auroc", "pixel_auroc", "aupro", "aupro_05"}
    for name, value in relit["difference"].items():
        assert value == pytest.approx(relit["metrics"][name] - metrics["report"][name])
    assert 0.0 <= metrics["report"]["aupro_05"] <= 1.0


def test_train_refuses_a_shifted_root_in_another_layout_before_training(tmp_path: Path, mvtec_root: Path,
                                                                       capsys) -> None:
    from cli.main import main

    regular = generate_demo(tmp_path / "regular", settings=dataclasses.replace(DEMO_HARD, **SMALL))
    out = tmp_path / "out"
    code = main(["train", "--dataset", "btad", "--data-root", str(regular), "--category", "carpet", "--out", str(out),
                 "--shifted-test", str(mvtec_root)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and str(mvtec_root) in err and "BTAD layout" in err
    assert not out.exists()
