"""The station runtime as a station installs it: its wheel in a fresh venv without torch.

Builds ``runtime/`` into a wheel, installs it with its dependencies (onnxruntime, numpy, OpenCV) into a new
virtual environment, and scores the demo images with ``ssflow-predict``: the same files, scores and decisions
as ``ssflow-search predict`` with the same model.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[2]


def _run(*command: str | Path, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the runtime wheel and its dependencies; its bin folder."""
    root = tmp_path_factory.mktemp("station")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "wheels",
         REPO / "runtime")
    wheels = list((root / "wheels").glob("ssflow_runtime-*.whl"))
    assert len(wheels) == 1
    venv.create(root / "venv", with_pip=True)
    bin_folder = root / "venv" / "bin"
    _run(bin_folder / "python", "-m", "pip", "install", "-q", wheels[0], timeout=900)
    return bin_folder


@pytest.mark.slow
def test_runtime_wheel_scores_without_torch_as_predict_does(station: Path, trained: Path,
                                                           small_demo_root: Path, tmp_path: Path) -> None:
    installed = _run(station / "python", "-m", "pip", "list", "--format=freeze").stdout.lower()
    assert "torch" not in installed and "ray" not in installed and "pandas" not in installed
    assert "ssflow-runtime==0.1.0" in installed
    images = [small_demo_root / "wood" / "test" / "ok", small_demo_root / "wood" / "test" / "ko"]
    by_station, by_search = tmp_path / "station", tmp_path / "search"
    done = _run(station / "ssflow-predict", "--model", trained / "model.onnx", *images, "--out", by_station,
                "--save-maps")
    assert "scored 16 images" in done.stdout
    assert main(["predict", "--model", str(trained / "model.onnx"), *map(str, images), "--out", str(by_search),
                 "--save-maps"]) == 0
    got, expected = pd.read_csv(by_station / "predictions.csv"), pd.read_csv(by_search / "predictions.csv")
    assert list(got.columns) == list(expected.columns)
    assert list(got["path"]) == list(expected["path"]) and list(got["overlay"]) == list(expected["overlay"])
    np.testing.assert_allclose(got["score"], expected["score"], atol=1e-5)
    assert (got["anomalous"] == expected["anomalous"]).all() and set(got["anomalous"]) == {True, False}
    pd.testing.assert_frame_equal(pd.read_csv(by_station / "regions.csv"), pd.read_csv(by_search / "regions.csv"),
                                  atol=1e-5)
    for name in got["map"]:
        np.testing.assert_allclose(np.load(by_station / name), np.load(by_search / name), atol=1e-5)


@pytest.mark.slow
def test_runtime_refuses_a_model_pt_and_parquet_without_pyarrow_in_one_line(station: Path, trained: Path,
                                                                           small_demo_root: Path,
                                                                           tmp_path: Path) -> None:
    images = str(small_demo_root / "wood" / "test" / "ok")
    for arguments, expected in ((["--model", trained / "model.pt"], "needs torch"),
                                (["--model", trained / "model.onnx", "--format", "parquet"], "needs pyarrow")):
        done = subprocess.run([str(station / "ssflow-predict"), *map(str, arguments), images,
                               "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and expected in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    version = _run(station / "ssflow-predict", "--version").stdout
    assert version.strip() == "ssflow-runtime 0.1.0"
