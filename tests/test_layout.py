"""The code base's layout: subpackages that import only downward, each importable alone, small modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# settings <- {datasets, model} <- evaluation <- training <- deployment: a subpackage imports only lower ranks.
RANKS = {"(root)": 0, "settings": 1, "datasets": 2, "model": 2, "evaluation": 3, "training": 4, "deployment": 5}
SUBPACKAGES = [name for name in RANKS if name != "(root)"]
MAX_LINES = 300
SOURCE_FOLDERS = ("ssflow", "ssflow_search", "runtime", "search", "results", "spaces", "cli", "benchmarks")


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANKS) else "(root)"


def _ssflow_imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every ``from ssflow.X import`` in the ssflow package."""
    found = []
    for path in (REPO / "ssflow").rglob("*.py"):
        module = ".".join(("ssflow", *path.relative_to(REPO / "ssflow").with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ssflow."):
                found.append((module, node.module))
    return found


def test_imports_run_only_downward() -> None:
    upward = [(importer, imported) for importer, imported in _ssflow_imports()
              if RANKS[_subpackage(imported)] > RANKS[_subpackage(importer)]
              or (_subpackage(importer) in ("datasets", "model") and {_subpackage(importer), _subpackage(imported)}
                  == {"datasets", "model"})]
    assert upward == []
    assert {_subpackage(importer) for importer, _ in _ssflow_imports()} == set(RANKS)


def test_the_station_runtime_imports_nothing_of_the_training_side() -> None:
    for path in (REPO / "runtime" / "ssflow_runtime").glob("*.py"):
        imported = {node.module.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Import) for alias in node.names}
        assert not imported & {"ssflow", "torch", "search", "results", "cli", "pandas", "scipy", "rich"}, path.name


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_each_subpackage_imports_alone_in_a_fresh_interpreter(subpackage: str) -> None:
    """Every module of the subpackage, imported first thing in a new process: an import cycle fails here."""
    code = ("import importlib, pkgutil, sys\n"
            f"import ssflow.{subpackage} as package\n"
            "names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))\n"
            "for name in names:\n"
            "    for loaded in [m for m in sys.modules if m.startswith('ssflow.')]:\n"
            "        del sys.modules[loaded]\n"
            f"    importlib.import_module('ssflow.{subpackage}.' + name)\n"
            "print(len(names))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) >= 3


def test_each_subpackage_says_what_lives_there() -> None:
    for subpackage in SUBPACKAGES:
        doc = ast.get_docstring(ast.parse((REPO / "ssflow" / subpackage / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) <= 4, subpackage


def test_no_module_passes_300_lines() -> None:
    long = {str(path.relative_to(REPO)): lines for folder in SOURCE_FOLDERS for path in (REPO / folder).rglob("*.py")
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
