"""``--dataset folder``: your own images in folders of good and defective parts."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from cli.main import main
from ssflow.settings.config import DataConfig, SSFlowConfig
from ssflow.datasets.prepared import plan_splits
from ssflow.datasets import list_categories, load_category
from ssflow.datasets.folder import list_folder_categories, scan_folder
from ssflow.errors import UserInputError


def _error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_categories_are_the_folders_with_good_or_train(folder_root: Path) -> None:
    assert list_folder_categories(folder_root) == ["bracket", "housing", "panel"]
    assert list_categories("folder", folder_root) == ["bracket", "housing", "panel"]


def test_plain_layout_records_and_masks_with_or_without_suffix(folder_root: Path) -> None:
    data = load_category("folder", folder_root, "bracket")
    assert data.dataset == "folder" and len(data.train) == 10  # the macOS debris is skipped
    assert Counter((r.defect, r.label) for r in data.test) == {("scratch", 1): 3, ("dent", 1): 2}
    masks = {r.image_path.name: r.mask_path.name for r in data.test}
    assert masks == {"s0.png": "s0.png", "s1.png": "s1.png", "s2.png": "s2.png",
                     "d0.jpg": "d0_mask.png", "d1.jpg": "d1_mask.png"}


def test_good_images_are_held_out_when_there_is_no_test_split(folder_root: Path) -> None:
    config = DataConfig(dataset="folder", root=str(folder_root), category="bracket", split_seed=3)
    plan = plan_splits(SSFlowConfig(data=config))
    assert plan.held_out == 2 and len(plan.train) == 8  # 20 % of 10 good images
    test = plan.selection + plan.report
    held = {r.image_path for r in test if r.label == 0}
    assert len(held) == 2 and not held & {r.image_path for r in plan.train}
    assert {r.label for r in plan.selection} == {r.label for r in plan.report} == {0, 1}
    assert plan_splits(SSFlowConfig(data=config)) == plan
    other = plan_splits(SSFlowConfig(data=DataConfig(dataset="folder", root=str(folder_root), category="bracket",
                                                     split_seed=3, holdout_fraction=0.5)))
    assert other.held_out == 5


def test_train_test_layout_uses_its_split(folder_root: Path) -> None:
    data = scan_folder(folder_root, "housing")
    assert len(data.train) == 6
    assert Counter(r.defect for r in data.test) == {"good": 3, "hole": 3}
    assert all(r.mask_path.name == f"{r.image_path.stem}_mask.png" for r in data.test if r.label)
    plan = plan_splits(SSFlowConfig(data=DataConfig(dataset="folder", root=str(folder_root), category="housing")))
    assert plan.held_out == 0 and len(plan.train) == 6


def test_defect_folders_without_masks_are_image_level(folder_root: Path) -> None:
    data = scan_folder(folder_root, "panel")
    assert all(r.mask_path is None for r in data.test) and len(data.test) == 4


def test_a_defect_folder_with_masks_needs_one_per_image(folder_root: Path) -> None:
    (folder_root / "bracket" / "masks" / "scratch" / "s1.png").unlink()
    with pytest.raises(UserInputError, match=r"1 of 3 images in .*scratch have no mask in .*scratch \(s1\.png\)"):
        scan_folder(folder_root, "bracket")


def test_a_mask_folder_named_after_no_defect_folder_stops_train_in_one_line(
        folder_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    masks = folder_root / "bracket" / "masks"
    (masks / "scratch").rename(masks / "scratches")  # scratch/ would silently lose its pixel metrics
    out = tmp_path / "out"
    assert main(["train", "--dataset", "folder", "--data-root", str(folder_root), "--category", "bracket",
                 "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert f"{masks}/scratches/: no defect folder" in line and "(defect folders: dent, scratch)" in line
    assert not out.exists()
    (masks / "good").mkdir()  # masks of good images are allowed (and not needed)
    (masks / "scratches").rename(masks / "scratch")
    assert scan_folder(folder_root, "bracket").test


def test_masks_saved_beside_their_images_are_refused_not_scored_as_defects(folder_root: Path) -> None:
    scratch = folder_root / "bracket" / "scratch"
    (folder_root / "bracket" / "masks" / "scratch" / "s1.png").rename(scratch / "s1_mask.png")
    shutil.rmtree(folder_root / "bracket" / "masks" / "scratch")
    with pytest.raises(UserInputError) as error:
        scan_folder(folder_root, "bracket")
    assert f"{scratch} holds masks beside their images (s1_mask.png)" in str(error.value)
    assert f"move them to {folder_root / 'bracket' / 'masks' / 'scratch'}/" in str(error.value)


def test_a_mask_folder_beside_the_defect_folders_is_refused_not_read_as_a_defect(folder_root: Path) -> None:
    (folder_root / "bracket" / "masks" / "scratch").rename(folder_root / "bracket" / "scratch_masks")
    with pytest.raises(UserInputError) as error:
        scan_folder(folder_root, "bracket")
    assert "scratch_masks/ looks like a mask folder" in str(error.value)
    assert f"move its masks to {folder_root / 'bracket' / 'masks' / 'scratch'}/" in str(error.value)


def test_layout_mistakes_are_named(folder_root: Path, tmp_path: Path, image_writer) -> None:
    with pytest.raises(UserInputError, match="looks like one category, pass its parent"):
        list_folder_categories(folder_root / "bracket")
    with pytest.raises(UserInputError, match="folder dataset root not found"):
        list_categories("folder", tmp_path / "absent")
    image_writer(folder_root / "housing" / "good" / "x.png")
    with pytest.raises(UserInputError, match="holds both good/ and train/"):
        scan_folder(folder_root, "housing")


def test_a_manifest_file_given_to_the_folder_reader_points_to_the_manifest_reader(tmp_path: Path) -> None:
    listing = tmp_path / "parts.csv"
    listing.write_text("image_path,label\n")
    with pytest.raises(UserInputError, match=r"data.root .*parts\.csv: a file, not a folder.*read with data.dataset manifest"):
        list_categories("folder", listing)


def test_folder_needs_a_data_root(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--dataset", "folder", "--category", "x", "--out", str(tmp_path / "out")]) == 2
    # the model layer names the setting; the command line names its flag
    assert "dataset folder has no default location; give --data-root: " in _error_line(capsys)


def test_duplicate_stems_stop_train_in_one_line(folder_root: Path, tmp_path: Path, image_writer,
                                                capsys: pytest.CaptureFixture) -> None:
    image_writer(folder_root / "panel" / "good" / "0003.png")  # beside 0003.bmp
    out = tmp_path / "out"
    assert main(["train", "--dataset", "folder", "--data-root", str(folder_root), "--category", "panel",
                 "--out", str(out)]) == 2
    assert "two files with stem '0003'" in _error_line(capsys) and not out.exists()


def test_a_single_normal_test_image_stops_train_in_one_line(folder_root: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    for path in sorted((folder_root / "housing" / "test" / "good").iterdir())[1:]:
        path.unlink()
    out = tmp_path / "out"
    assert main(["train", "--dataset", "folder", "--data-root", str(folder_root), "--category", "housing",
                 "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert "category 'housing': the selection split has no normal test image (0 normal, 1 anomalous; " \
           "report: 1 normal, 2 anomalous)" in line and not out.exists()


def test_a_category_of_good_images_only_is_tuned_on_synthetic_anomalies(folder_root: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    shutil.rmtree(folder_root / "panel" / "crack")
    out = tmp_path / "out"
    assert main(["train", "--dataset", "folder", "--data-root", str(folder_root), "--category", "panel",
                 "--image-size", "64", "--epochs", "1", "--out", str(out)]) == 0
    assert "has no anomalous test image" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["report"] is None and 0.0 <= metrics["synthetic_validation"]["image_auroc"] <= 1.0
    # Asked to score real defects only, the same category is refused in one line.
    real_only = SSFlowConfig(data=DataConfig(dataset="folder", root=str(folder_root), category="panel"))
    with pytest.raises(UserInputError, match="category 'panel' has no anomalous test images"):
        plan_splits(real_only)


@pytest.mark.parametrize("category", ["bracket", "housing"])
def test_train_on_a_folder_category(folder_root: Path, tmp_path: Path, run_train, category: str) -> None:
    metrics = run_train("folder", folder_root, category, tmp_path / "out")
    assert metrics["status"] == "finished" and metrics["dataset"] == "folder"
    for split in ("selection", "report"):
        assert all(0.0 <= metrics[split][name] <= 1.0 for name in ("image_auroc", "pixel_auroc", "aupro"))


def test_train_on_an_image_level_only_category(folder_root: Path, tmp_path: Path, run_train,
                                               capsys: pytest.CaptureFixture) -> None:
    metrics = run_train("folder", folder_root, "panel", tmp_path / "out")
    for split in ("selection", "report"):
        assert metrics[split]["pixel_auroc"] is None and metrics[split]["aupro"] is None
        assert 0.0 <= metrics[split]["image_auroc"] <= 1.0
    text = (tmp_path / "out" / "metrics.json").read_text()
    assert '"aupro": null' in text and json.loads(text)["report"]["pixel_auroc"] is None
    printed = capsys.readouterr().out
    assert "image-level only" in printed and "pixel AUROC -  AUPRO -" in printed
    assert "2 normal training images held out for testing" in printed
