"""Categories without any labelled defect are tuned and calibrated on synthetic validation anomalies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from search.options import SweepOptions
from search.sweep import category_base
from spaces.space import load_space
from ssflow.settings.flat_config import config_from_flat


@pytest.fixture
def good_only(small_demo_root: Path, tmp_path: Path) -> Path:
    """The small demo in the BTAD layout with every defective test image and mask removed."""
    root = tmp_path / "good-only"
    shutil.copytree(small_demo_root, root)
    for category in ("wood", "fabric"):
        shutil.rmtree(root / category / "test" / "ko")
        shutil.rmtree(root / category / "ground_truth" / "ko")
    return root


def test_train_says_so_and_selects_on_synthetic_anomalies(good_only: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    assert main(["train", "--dataset", "btad", "--data-root", str(good_only), "--category", "wood",
                 "--image-size", "64", "--epochs", "1", "--out", str(out)]) == 0
    assert "no anomalous test image" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished"
    assert metrics["report"] is None and metrics["selection"] is None  # nothing real to score: null, never 0
    assert 0.0 < metrics["synthetic_validation"]["image_auroc"] <= 1.0
    assert metrics["objective"] == pytest.approx(0.5 * (metrics["synthetic_validation"]["image_auroc"]
                                                        + metrics["synthetic_validation"]["aupro"]))
    assert (out / "model.pt").is_file()
    # Best F1 on painted defects need not transfer to real parts: the default threshold is a false-alarm rate.
    assert metrics["threshold"]["rule"].startswith("false-positive rate <= 1 %")


def test_a_sweep_tunes_such_a_category_label_free(good_only: Path, small_demo_root: Path, tmp_path: Path) -> None:
    def options(root: Path, objective: str = "quality") -> SweepOptions:
        return SweepOptions(base=config_from_flat({"data.dataset": "btad", "data.root": str(root)}),
                            space=load_space("demo"), name="t", storage=str(tmp_path), objective=objective)

    base, label_free = category_base(options(good_only), "wood")
    assert label_free and base.validation.synthetic_weight == 1.0
    base, label_free = category_base(options(small_demo_root), "wood")
    assert not label_free and base.validation.synthetic_weight == 0.0
    base, label_free = category_base(options(small_demo_root, "synthetic"), "wood")  # asked for: no real defect used
    assert label_free and base.validation.synthetic_weight == 1.0


def test_tuned_label_free_on_labelled_data_no_label_sets_the_threshold(small_demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", "64", "--epochs", "1", "--set", "validation.synthetic_weight=1",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["threshold"]["rule"].startswith("false-positive rate <= 1 %")
    assert "held-out normal" in metrics["threshold"]["rule"]
    assert metrics["report"]["image_auroc"] is not None  # the labelled report split is still scored, for reading
