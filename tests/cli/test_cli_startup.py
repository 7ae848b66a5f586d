"""The command line answers --help and a mistyped flag without importing torch or Ray (fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from cli.main import main
try:
    code = main({argv!r})
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in ("torch", "ray", "timm") if m in sys.modules)}}))
"""


def probe(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_command_line_loads_neither_torch_nor_ray() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, cli.main; print(sorted(m for m in ('torch', 'ray') "
                                                 "if m in sys.modules))"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_of_every_command_loads_neither_torch_nor_ray(command: str) -> None:
    result = probe([command, "--help"])
    assert result == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", ["search", "train", "export-model"])
def test_a_mistyped_flag_is_refused_before_any_heavy_import(command: str) -> None:
    result = probe([command, "--no-such-flag"])
    assert result == {"code": 2, "heavy": []}


def test_the_console_script_runs_from_any_folder(tmp_path: Path) -> None:
    """``pip install`` puts ``ssflow-search`` beside the interpreter; it names itself in help and errors."""
    script = Path(sys.executable).with_name("ssflow-search")
    assert script.is_file(), "install the project (pip install -e .) to get the ssflow-search command"
    version = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip().startswith("ssflow-search ")
    shown = subprocess.run([str(script), "train", "--help"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: ssflow-search train")
    wrong = subprocess.run([str(script), "--no-such-flag"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ssflow-search:")
    assert "\n" not in wrong.stderr.strip()
