"""Damaged files degrade, never crash: model files with non-finite decisions, broken Parquet, broken cache entries."""

import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from cli.main import main
from file_fingerprints import folder_hashes
from results.store import ResultStore
from ssflow_runtime.calibration import calibration_from_dict
from ssflow.training.feature_cache import cached_features
from ssflow.training.run_features import RunFeatures
from store_rows import EXPERIMENT, build_store


def _with_calibration(trained: Path, folder: Path, **changes) -> Path:
    """A copy of the trained model.pt with calibration fields replaced."""
    payload = torch.load(trained / "model.pt", map_location="cpu", weights_only=False)
    payload["calibration"] = {**payload["calibration"], **changes}
    folder.mkdir()
    torch.save(payload, folder / "model.pt")
    return folder / "model.pt"


@pytest.mark.parametrize("threshold", [None, math.nan, math.inf])
def test_a_model_whose_threshold_is_not_finite_is_refused(threshold, trained, small_demo_root, tmp_path,
                                                          error_line):
    model = _with_calibration(trained, tmp_path / "model", threshold=threshold)
    before = folder_hashes(tmp_path)
    image = next((small_demo_root / "wood" / "test" / "ok").glob("*.png"))
    assert main(["predict", "--model", str(model), str(image), "--out", str(tmp_path / "out")]) == 2
    line = error_line()
    assert str(model) in line and "threshold" in line and "finite" in line
    assert folder_hashes(tmp_path) == before and not (tmp_path / "out").exists()


def test_calibration_values_that_must_be_finite_are_checked():
    good = {"threshold": 1.0, "score_mean": 0.0, "score_std": 1.0, "map_low": 0.0, "map_high": 2.0}
    assert calibration_from_dict(good).threshold == 1.0
    assert math.isnan(calibration_from_dict({**good, "score_low": None}).score_low)  # older files lack it
    for name in good:
        with pytest.raises(ValueError, match=name):
            calibration_from_dict({**good, name: None})
    with pytest.raises(ValueError, match="fpr_thresholds"):
        calibration_from_dict({**good, "fpr_thresholds": [[0.01, math.nan]]})


@pytest.mark.parametrize("damage", ["empty", "truncated", "foreign"])
def test_a_broken_parquet_file_is_skipped_with_a_note(damage, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    store = build_store(tmp_path / "runs")
    good = sorted((tmp_path / "runs").rglob("*.parquet"))
    broken = good[0].parent / f"{EXPERIMENT}__broken__e0001.parquet"
    data = good[0].read_bytes()
    broken.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "foreign": b"PAR1 not a table"}[damage])
    before = folder_hashes(tmp_path)
    rows, notes = store.read_checked()
    assert len(rows) == len(ResultStore(tmp_path / "runs").read()) > 0
    assert len(notes) == 1 and str(broken) in notes[0] and "not a readable Parquet file" in notes[0]
    assert main(["show", "--storage", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert broken.name in out and "mvtec/carpet" in out
    assert main(["export", "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT,
                 "--out", str(tmp_path / "best.yaml")]) == 0
    assert (tmp_path / "best.yaml").stat().st_size > 0
    assert {key: value for key, value in folder_hashes(tmp_path).items() if key != "best.yaml"} == before


@pytest.mark.parametrize("content", [b"", b"\x80\x04garbage", b"PK\x03\x04 half a zip"])
def test_a_damaged_cache_entry_is_deleted_and_recomputed(content, tmp_path, caplog):
    entry = tmp_path / "k.pt"
    entry.write_bytes(content)
    level = torch.full((2, 3, 4, 4), 2.0)
    features, hit = cached_features(tmp_path, "k", torch.device("cpu"),
                                    lambda: RunFeatures([level], [level], [level], []))
    assert not hit and features.train[0][0, 0, 0, 0].item() == 2.0
    assert "damaged" in caplog.text and str(entry) in caplog.text
    stored = torch.load(entry, weights_only=True)  # replaced by the recomputed entry
    assert torch.equal(stored["train"][0], level)
    shutil.rmtree(tmp_path)


def test_a_store_file_whose_name_is_not_utf8_is_skipped_with_a_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    build_store(tmp_path / "runs")
    good = sorted((tmp_path / "runs").rglob("*.parquet"))[0]
    odd = Path(os.fsdecode(bytes(good.parent) + b"/" + EXPERIMENT.encode() + b"__x\xff\x1b[31m__e0001.parquet"))
    odd.write_bytes(b"")
    assert main(["show", "--storage", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "not UTF-8" in out and "mvtec/carpet" in out and "\x1b[31m" not in out
    assert "__x\\xff" in out  # the file is named, its odd byte escaped
