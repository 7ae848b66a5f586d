"""``train --export onnx``, ``export-model`` and ``predict --model model.onnx`` with a real trained model.

The tiny model of ``tests/conftest.py::trained`` (trained through the
command line with ``--export onnx``) is run by ONNX Runtime, mostly inside a
process where torch, timm and FrEIA cannot be imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest

import ssflow
from cli.main import main
from ssflow_runtime.calibration import calibration_from_dict
from ssflow.datasets.prepared import prepare_data
from ssflow.settings.flat_config import config_from_flat
from ssflow.deployment.model_io import load_model
from ssflow_runtime.onnx_model import METADATA_KEYS, open_onnx_model

REPO = Path(__file__).resolve().parents[2]
SIZE = 64  # the image size of the `trained` fixture (tests/conftest.py)
# Runs run_search.py with torch, timm and FrEIA unimportable, then checks that none of them was loaded.
BLOCKED_RUN = """
import runpy, sys
BLOCKED = ("torch", "timm", "FrEIA")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
sys.argv = ["run_search.py", *sys.argv[1:]]
try:
    runpy.run_path("run_search.py", run_name="__main__")
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    if loaded:
        sys.exit(f"loaded {loaded}")
"""


@pytest.fixture(scope="module")
def test_images(small_demo_root: Path) -> list[Path]:
    return [small_demo_root / "wood" / "test" / "ok", small_demo_root / "wood" / "test" / "ko"]



@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Printed lines unwrapped, so paths can be found in them."""
    monkeypatch.setenv("COLUMNS", "300")

def run_blocked(*arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, *arguments], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_onnx_without_torch_gives_the_scores_and_decisions_of_model_pt(trained: Path, test_images: list[Path],
                                                                       tmp_path: Path) -> None:
    by_torch, by_onnx = tmp_path / "torch", tmp_path / "onnx"
    inputs = [str(path) for path in test_images]
    assert main(["predict", "--model", str(trained / "model.pt"), *inputs, "--out", str(by_torch)]) == 0
    done = run_blocked("predict", "--model", str(trained / "model.onnx"), *inputs, "--out", str(by_onnx))
    assert done.returncode == 0, done.stderr
    assert "scored 16 images" in done.stdout and "onnxruntime CPUExecutionProvider" in done.stdout
    expected = pd.read_csv(by_torch / "predictions.csv")
    got = pd.read_csv(by_onnx / "predictions.csv")
    assert list(got.columns) == ["path", "score", "normalized_score", "threshold", "anomalous", "overlay", "map",
                                 "regions"]
    assert list(got["path"]) == list(expected["path"]) and list(got["overlay"]) == list(expected["overlay"])
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-4)
    np.testing.assert_allclose(got["normalized_score"], expected["normalized_score"], atol=1e-4)
    assert (got["threshold"] == expected["threshold"]).all()
    assert (got["anomalous"] == expected["anomalous"]).all()
    assert set(got["anomalous"]) == {True, False}
    written = sorted(p.relative_to(by_onnx).as_posix() for p in (by_onnx / "overlays").rglob("*.png"))
    assert written == sorted(expected["overlay"])


def test_max_fpr_bounds_the_selection_normals_and_normalized_score_crosses_half_at_the_threshold(
        trained: Path, small_demo_root: Path, tmp_path: Path) -> None:
    config = load_model(trained / "model.pt").config
    selection = prepare_data(config).selection
    normals = [path for path, label in zip(selection.paths, selection.labels) if label == 0]
    calibration = open_onnx_model(trained / "model.onnx", "cpu").calibration
    assert calibration.normal_source == "selection" and len(calibration.normal_scores) == len(normals)
    for rate in (0.01, 0.5):
        out = tmp_path / f"fpr{rate}"
        done = run_blocked("predict", "--model", str(trained / "model.onnx"), *normals, "--out", str(out),
                           "--max-fpr", str(rate))
        assert done.returncode == 0, done.stderr
        table = pd.read_csv(out / "predictions.csv")
        allowed = int(np.floor(rate * len(normals)))
        assert table["anomalous"].sum() <= allowed
        if len(set(calibration.normal_scores)) == len(normals):  # no ties: it flags as many as allowed
            assert table["anomalous"].sum() == allowed
        threshold = table["threshold"].iloc[0]
        assert threshold == calibration.threshold_for_rate(rate)
        assert (table["anomalous"] == (table["score"] >= threshold)).all()
        assert (table["anomalous"] == (table["normalized_score"] >= 0.5)).all()
        assert table["normalized_score"].between(0, 1).all()
    # --threshold at an image's own score: that image sits exactly on 0.5 and is flagged
    at = float(np.sort(table["score"])[len(table) // 2])
    exactly = tmp_path / "exact"
    assert main(["predict", "--model", str(trained / "model.onnx"), *normals, "--out", str(exactly),
                 "--threshold", repr(at)]) == 0
    table = pd.read_csv(exactly / "predictions.csv")
    on = table["score"] == at
    assert on.sum() >= 1 and (table.loc[on, "normalized_score"] == 0.5).all() and table.loc[on, "anomalous"].all()
    assert (table.loc[table["score"] < at, "normalized_score"] < 0.5).all()
    assert (table.loc[table["score"] > at, "normalized_score"] > 0.5).all()


def test_metadata_carries_calibration_size_config_and_version(trained: Path) -> None:
    graph = onnx.load(str(trained / "model.onnx"))
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    assert set(METADATA_KEYS) <= set(metadata)
    assert metadata["format"] == "ssflow-onnx/1" and metadata["ssflow_version"] == ssflow.__version__
    assert json.loads(metadata["image_size"]) == SIZE
    model = load_model(trained / "model.pt")
    assert calibration_from_dict(json.loads(metadata["calibration"])) == model.calibration
    assert json.loads(metadata["threshold"]) == model.calibration.threshold
    assert set(json.loads(metadata["fpr_thresholds"])) == {"0.001", "0.01", "0.05"}
    assert config_from_flat({}).backbone.name == json.loads(metadata["config"])["backbone"]["name"]
    check = json.loads(metadata["export_check"])
    assert check["images"] == 4 and check["score_relative_difference"] <= 1e-4
    assert [i.name for i in graph.graph.input] == ["images"]
    assert [o.name for o in graph.graph.output] == ["anomaly_map", "score"]
    shape = graph.graph.input[0].type.tensor_type.shape.dim
    assert shape[0].dim_param and [d.dim_value for d in shape[1:]] == [3, SIZE, SIZE]


def test_train_metrics_carry_the_threshold_with_report_precision_recall(trained: Path) -> None:
    metrics = json.loads((trained / "metrics.json").read_text())
    threshold = metrics["threshold"]
    assert threshold["rule"] == "best F1 on the selection split"
    assert threshold["value"] == load_model(trained / "model.pt").calibration.threshold
    report = threshold["report"]
    assert report["normal"] + report["anomalous"] == 8 and 0 <= report["recall"] <= 1
    assert [entry["max_fpr"] for entry in metrics["fpr_thresholds"]] == [0.001, 0.01, 0.05]
