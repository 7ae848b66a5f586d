"""The README's Python example, run as written, and the API's errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ssflow.datasets import default_root, prepare_root
from ssflow.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n## Python\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    demo = prepare_root("demo", REPO / default_root("demo"))
    (tmp_path / "data").mkdir()
    os.symlink(demo, tmp_path / "data" / "demo")
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "aupro_05" in printed and "0000_scratch.png" in printed and "wood-sweep" in printed
    assert (tmp_path / "models" / "wood" / "model.pt").is_file() and (tmp_path / "runs").is_dir()


def test_bad_values_raise_one_line_errors_instead_of_exiting(tmp_path: Path) -> None:
    from ssflow_search import load_model, train

    with pytest.raises(UserInputError, match="train.photometric"):
        train("demo", "wood", out=tmp_path / "m", overrides={"train.photometric": 3})
    with pytest.raises(UserInputError, match="train: argument --dataset: invalid choice: 'nope'"):
        train("nope", "wood", out=tmp_path / "m")
    with pytest.raises(UserInputError, match="absent.pt"):
        load_model(tmp_path / "absent.pt")
    assert not (tmp_path / "m").exists()


def test_importing_the_api_loads_no_torch_or_ray() -> None:
    import subprocess
    import sys

    code = "import sys, ssflow_search; print(sorted(m for m in ('torch', 'ray') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          check=True).stdout.strip() == "[]"
