"""Every code example in README.md, docs/ and runtime/README.md, checked against the real program.

Command lines (``ssflow-search``, ``python run_search.py``, ``ssflow-predict``, also inside a ``RayJob``'s
entrypoint) are parsed by the commands' own parsers: an unknown flag, a bad choice or a bad value fails. YAML
is loaded (a ``RayJob``'s entrypoint parsed as a command line). Python examples run as written, in a folder
holding the demo dataset (slow), as does the README's command-line quick start.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from cli.main import COMMANDS, command_parser
from ssflow.datasets import default_root, prepare_root
from ssflow_runtime.cli import parser as predict_parser

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "runtime" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("ssflow-search", "run_search.py", "ssflow-predict")


class Block(NamedTuple):
    page: str
    line: int
    language: str
    text: str


def _blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            found.append(Block(page.relative_to(REPO).as_posix(), text[:match.start()].count("\n") + 1,
                               match.group(1), match.group(2)))
    return found


BLOCKS = _blocks()


def _invocations(words: list[str]) -> list[list[str]]:
    """The program invocations in ``words``: from a program's name to the next ``&&``, ``;`` or ``|``; a
    quoted word holding a command (``ray exec ... 'cd x && python run_search.py ...'``) is searched too."""
    found: list[list[str]] = []
    current: list[str] | None = None
    for word in words:
        if word in ("&&", ";", "|", "||"):
            current = None
        elif " " in word and any(program in word for program in PROGRAMS):
            found.extend(_invocations(shlex.split(word)))
        elif current is None and any(word.endswith(program) for program in PROGRAMS):
            current = [word]
            found.append(current)
        elif current is not None:
            current.append(word)
    return found


def _command_lines(text: str) -> list[list[str]]:
    """Every invocation of one of :data:`PROGRAMS` in a shell block, continuations joined, comments dropped,
    ``[optional | alternatives]`` of a synopsis and ``...`` left out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = re.sub(r"\[[^\]]*\]", " ", line)
        words = [word for word in shlex.split(line, comments=True) if word != "..."]
        found.extend(_invocations(words))
    return found


def _relaxed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with no flag required: examples leave out what ``...`` stands for."""
    for action in parser._actions:
        if action.option_strings:
            action.required = False
    return parser


def _parse(words: list[str]) -> None:
    """Parse one documented invocation; fails the test naming it when its parser refuses it."""
    program, arguments = words[0], [word for word in words[1:] if word != "..."]
    if program.endswith("ssflow-predict"):
        parser = predict_parser()
    else:
        name = arguments[0] if arguments and arguments[0] in COMMANDS else "search"
        arguments = arguments[1:] if arguments and arguments[0] == name else arguments
        parser = command_parser(name)
    try:
        _relaxed(parser).parse_args(arguments)
    except SystemExit as error:
        pytest.fail(f"documented command refused: {shlex.join(words)} (exit {error})")


SHELL = [block for block in BLOCKS if block.language in ("bash", "sh", "")]


@pytest.mark.parametrize("block", SHELL, ids=[f"{b.page}:{b.line}" for b in SHELL])
def test_documented_command_lines_parse(block: Block, capsys: pytest.CaptureFixture) -> None:
    for invocation in _command_lines(block.text):
        _parse(invocation)
    assert "error" not in capsys.readouterr().err


YAML = [block for block in BLOCKS if block.language == "yaml"]


@pytest.mark.parametrize("block", YAML, ids=[f"{b.page}:{b.line}" for b in YAML])
def test_documented_yaml_loads_and_its_commands_parse(block: Block) -> None:
    document = yaml.safe_load(block.text)
    assert isinstance(document, dict)
    if document.get("kind") == "RayJob":
        (invocation,) = _invocations(shlex.split(document["spec"]["entrypoint"]))
        _parse(invocation)


def test_only_openvino_examples_may_be_left_unrun() -> None:
    unrunnable = [block for block in PYTHON if not all(_importable(name) for name in _imported(block.text))]
    assert all("openvino" in _imported(block.text) for block in unrunnable) and len(unrunnable) <= 1


def test_every_example_is_checked_by_some_test() -> None:
    checked = {"bash", "sh", "", "yaml", "python", "text"}
    assert {block.language for block in BLOCKS} <= checked
    assert len([b for b in BLOCKS if b.language == "python"]) >= 3 and len(SHELL) >= 10


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    """A new folder whose ``data/demo`` is the demo dataset, as the examples expect."""
    folder = tmp_path
    (folder / "data").mkdir()
    os.symlink(prepare_root("demo", REPO / default_root("demo")), folder / "data" / "demo")
    return folder


def _python_blocks() -> list[Block]:
    unique: dict[str, Block] = {}
    for block in BLOCKS:
        if block.language == "python":
            unique.setdefault(block.text, block)
    return list(unique.values())


PYTHON = _python_blocks()


@pytest.mark.slow
def test_python_examples_run_as_written(demo_folder: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(demo_folder)
    for block in PYTHON:  # in page order: a later example may use an earlier one's model
        if not all(_importable(name) for name in _imported(block.text)):
            continue  # OpenVINO's example: no dependency of this project (the shipped ONNX file is what it reads)
        exec(compile(block.text, f"{block.page}:{block.line}", "exec"), {})
    printed = capsys.readouterr().out
    assert "aupro_05" in printed and "0000_scratch.png" in printed and "wood-sweep" in printed
    assert re.search(r"\d+ images, \d+ anomalous", printed)
    assert (demo_folder / "models" / "wood" / "model.onnx").is_file()


def _imported(code: str) -> set[str]:
    """The top-level modules ``code`` imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.mark.slow
def test_readme_quick_start_runs_as_written(demo_folder: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Quick start: the command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    bin_folder = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200"}
    for line in block.splitlines():
        if line.startswith("pip "):
            continue  # the test runs inside the installed project
        done = subprocess.run(line, shell=True, cwd=demo_folder, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{line}: {done.stderr[-2000:]}"
    predictions = (demo_folder / "predictions" / "predictions.csv").read_text().splitlines()
    assert predictions[0].startswith("path,score,normalized_score,threshold,anomalous")
    assert len(predictions) > 10 and (demo_folder / "models" / "wood" / "model.onnx").is_file()
