"""The Python API's errors and imports (its documented examples run in tests/test_docs_examples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssflow.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]


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
