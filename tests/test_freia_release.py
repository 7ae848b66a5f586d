"""A FrEIA whose AllInOneBlock differs from release 0.2 is refused at import, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What FrEIA's GitHub main does differently from the 0.2 release, patched in before ssflow is imported.
GITHUB_CLAMP = """
import torch
import FrEIA.modules.all_in_one_block as module

def affine(self, x, a, rev=False):
    a = a * 0.1
    ch = x.shape[1]
    sub_jac = self.clamp * torch.tanh(a[:, :ch] / self.clamp)
    if not rev:
        return x * torch.exp(sub_jac) + a[:, ch:], torch.sum(sub_jac, dim=self.sum_dims)
    return (x - a[:, ch:]) * torch.exp(-sub_jac), -torch.sum(sub_jac, dim=self.sum_dims)

module.AllInOneBlock._affine = affine
"""

GITHUB_PERMUTATION = """
import torch
import FrEIA.modules.all_in_one_block as module

original = module.AllInOneBlock.__init__

def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    index = torch.randperm(self.in_channels)
    self.w_perm = torch.nn.Parameter(index, requires_grad=False)
    self.w_perm_inv = torch.nn.Parameter(torch.argsort(index), requires_grad=False)

module.AllInOneBlock.__init__ = init
"""


def run(patch: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", patch + code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("patch, differs", [(GITHUB_CLAMP, "scale clamping"),
                                            (GITHUB_PERMUTATION, "hard permutation storage")])
def test_another_all_in_one_block_is_refused_in_one_line(patch: str, differs: str, tmp_path: Path) -> None:
    imported = run(patch, "\nimport ssflow.model.flow\n")
    assert imported.returncode != 0 and "IncompatibleDependency" in imported.stderr
    train = f"['train', '--dataset', 'demo', '--category', 'wood', '--out', '{tmp_path}/m']"
    command = run(patch, f"\nimport sys\nfrom cli.main import main\nsys.exit(main({train}))\n")
    assert command.returncode == 2, command.stderr
    lines = command.stderr.strip().splitlines()
    assert len(lines) == 1 and differs in lines[0] and "pip install FrEIA==0.2" in lines[0]
    assert not (tmp_path / "m").exists()


def test_the_installed_release_passes() -> None:
    assert run("", "\nimport ssflow.model.flow\n").returncode == 0
