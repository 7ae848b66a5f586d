"""What ``pip install .`` installs: the two console commands and every package, runtime and space files included."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_both_commands_every_subpackage_and_the_spaces(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("ssflow_search-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "ssflow-search = cli.main:entry" in entry_points and "ssflow-predict = ssflow_runtime.cli:entry" in entry_points
    packages = {name.rsplit("/", 1)[0] for name in names if name.endswith("/__init__.py")}
    expected = {"ssflow", "ssflow/settings", "ssflow/datasets", "ssflow/model", "ssflow/evaluation", "ssflow/training",
                "ssflow/deployment", "ssflow_runtime", "ssflow_search", "search", "results", "spaces", "cli"}
    assert expected <= packages
    assert {"spaces/default.yaml", "spaces/paper.yaml", "spaces/portfolios/demo-hard.yaml"} <= names
    assert not any(name.startswith(("tests/", "benchmarks/", "runtime/")) for name in names)
