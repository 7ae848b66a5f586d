"""Training data nobody checked: test images that copy training images (refused by default), and likely defects
among the good training images (listed, dropped on request)."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cli.main import main
from cli.sweep_summary import outlier_lines
from file_fingerprints import folder_hashes
from results.store import ResultStore
from search.options import SweepOptions
from spaces.space import load_space
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData, plan_splits
from ssflow.settings.flat_config import config_from_flat
from ssflow.datasets.leakage import find_leaks, split_leaks
from store_rows import EXPERIMENT, TRIALS, trial_rows
from ssflow.training.train_outliers import OUTLIER_Z, find_outliers, modified_z, without_images


@pytest.fixture
def leaky_root(small_demo_root, tmp_path):
    """The small demo's wood with three training images copied into test/ok: as is, as a JPEG, half-size."""
    root = tmp_path / "btad"
    shutil.copytree(small_demo_root / "wood", root / "wood")
    train = sorted((root / "wood" / "train" / "ok").glob("*.png"))
    test = root / "wood" / "test" / "ok"
    shutil.copy(train[0], test / "copy.png")
    pixels = cv2.imread(str(train[1]))
    _, jpeg = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 80])
    cv2.imwrite(str(test / "resaved.png"), cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    half = cv2.resize(cv2.imread(str(train[2])), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(test / "smaller.png"), half)
    return root


def _plan(root):
    return plan_splits(config_from_flat({"data.dataset": "btad", "data.root": str(root), "data.category": "wood"}))


def test_copies_are_found_and_distinct_images_are_not(leaky_root, small_demo_root):
    leaks = split_leaks(_plan(leaky_root))
    found = {leak.test_path.rsplit("/", 1)[1]: leak for leak in leaks}
    assert set(found) == {"copy.png", "resaved.png", "smaller.png"}
    assert found["copy.png"].kind == "exact" and found["resaved.png"].kind == found["smaller.png"].kind == "near"
    train = sorted((leaky_root / "wood" / "train" / "ok").glob("*.png"))
    assert [found[name].train_path for name in ("copy.png", "resaved.png", "smaller.png")] == list(map(str, train[:3]))
    assert split_leaks(_plan(small_demo_root)) == []  # 24 + 16 generated images of one texture: no false leak


def test_a_noisy_second_capture_is_not_a_leak(tmp_path):
    """Two captures of one scene differ by sensor noise and a small shift: close hashes, different pixels."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (260, 260), dtype=np.uint8), (0, 0), 3)
    first = np.clip(scene[2:258, 2:258] + rng.normal(0, 6, (256, 256)), 0, 255).astype(np.uint8)
    second = np.clip(scene[4:260, 3:259] + rng.normal(0, 6, (256, 256)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), first)
    cv2.imwrite(str(tmp_path / "b.png"), second)
    assert find_leaks([tmp_path / "a.png"], [tmp_path / "b.png"]) == []
    assert len(find_leaks([tmp_path / "a.png"], [tmp_path / "a.png"])) == 1


@pytest.mark.parametrize("command", ["train", "search"])
def test_leakage_is_refused_in_one_line_naming_the_pairs(command, leaky_root, tmp_path, error_line):
    before = folder_hashes(tmp_path)
    common = ["--dataset", "btad", "--data-root", str(leaky_root)]
    if command == "train":
        arguments = ["train", *common, "--category", "wood", "--out", str(tmp_path / "out")]
    else:
        arguments = [*common, "--storage", str(tmp_path / "runs"), "--name", "leaky"]
    assert main(arguments) == 2
    line = error_line()
    assert "3 test images are copies of training images" in line and "copy.png" in line
    assert "--allow-leakage" in line
    after = folder_hashes(tmp_path)
    assert {key: value for key, value in after.items() if not key.startswith("runs")} == before
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()  # no empty folder left


def test_allow_leakage_goes_on_and_says_so(leaky_root, tmp_path, capsys):
    assert main(["train", "--dataset", "btad", "--data-root", str(leaky_root), "--category", "wood",
                 "--image-size", "64", "--epochs", "1", "--allow-leakage", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "leakage" in printed and "inflated" in printed and (tmp_path / "out" / "model.pt").is_file()


def test_modified_z_scores_flag_only_high_scores():
    scores = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 5.0, -3.0])
    outliers = find_outliers([f"img{i}.png" for i in range(len(scores))], scores)
    assert [outlier.path for outlier in outliers] == ["img8.png"]  # the low one is no defect
    assert outliers[0].robust_z > OUTLIER_Z
    assert find_outliers(["a", "b", "c"], np.array([1.0, 1.0, 9.0])) == []  # too few images to say
    assert not modified_z(np.ones(10)).any()  # all alike: nothing stands out


def test_dropping_an_image_drops_all_its_tiles():
    paths = ("a.png#tile-0", "a.png#tile-1", "b.png#tile-0", "b.png#tile-1", "c.png")
    data = PreparedData(dataset="d", category="c", train=np.arange(5)[:, None], train_paths=paths, selection=None,
                        report=None, train_images=3)
    kept = without_images(data, ["b.png"])
    assert kept.train_paths == ("a.png#tile-0", "a.png#tile-1", "c.png") and kept.train[:, 0].tolist() == [0, 1, 4]
    assert kept.train_images == 2
    with pytest.raises(ValueError):
        without_images(data, ["a.png", "b.png", "c.png"])


@pytest.fixture
def contaminated_root(small_demo_root, tmp_path):
    """The small demo's wood with two of its 24 training images given a large bright defect."""
    root = tmp_path / "btad"
    shutil.copytree(small_demo_root / "wood", root / "wood")
    train = sorted((root / "wood" / "train" / "ok").glob("*.png"))
    for path in (train[5], train[17]):
        pixels = cv2.imread(str(path))
        cv2.rectangle(pixels, (30, 40), (80, 70), (255, 255, 255), thickness=-1)
        cv2.line(pixels, (10, 110), (120, 90), (0, 0, 0), thickness=4)
        cv2.imwrite(str(path), pixels)
    return root, {train[5].name, train[17].name}


@pytest.mark.slow
def test_defective_training_images_are_listed_and_dropped(contaminated_root, tmp_path, capsys):
    root, painted = contaminated_root
    arguments = ["train", "--dataset", "btad", "--data-root", str(root), "--category", "wood", "--image-size", "64",
                 "--epochs", "3", "--out", str(tmp_path / "kept")]
    assert main(arguments) == 0
    listed = pd.read_csv(tmp_path / "kept" / "train_outliers.csv")
    assert painted <= {Path(path).name for path in listed["path"]} and not listed["dropped"].any()
    assert "likely defects" in capsys.readouterr().out
    assert main([*arguments[:-1], str(tmp_path / "dropped"), "--drop-outliers"]) == 0
    metrics = json.loads((tmp_path / "dropped" / "metrics.json").read_text())
    assert metrics["outliers_dropped"] and painted <= {Path(path).name for path in metrics["train_outliers"]}
    assert "training again" in capsys.readouterr().out


def test_a_sweep_names_what_its_best_models_flagged(tmp_path):
    rows = [{**row, "train_outliers": json.dumps(["/data/carpet/train/good/007.png", "/data/carpet/train/good/9.png"])
             if row["trial_id"] == "c-best" and row["status"] == "finished" else None}
            for category, by_id in TRIALS.items() for trial_id, spec in by_id.items()
            for row in trial_rows(EXPERIMENT, category, trial_id, *spec)]
    ResultStore(tmp_path / "runs").write_rows(rows)
    options = SweepOptions(base=SSFlowConfig(), space=load_space("demo"), name=EXPERIMENT,
                           storage=str(tmp_path / "runs"))
    (line,) = outlier_lines(options)  # grid's best flagged nothing
    assert line.startswith("carpet: its best model scores 2 training images far above the rest")
    assert "007.png, 9.png" in line and "--drop-outliers" in line
