"""The sweep's flags (``ssflow-search --dataset D ...``): the table :data:`search.sweep_flags.SWEEP_FLAGS`,
read apart from the sweep so ``--help`` and a mistyped flag answer without importing Ray or torch."""

from __future__ import annotations

import argparse

from search.sweep_flags import add_sweep_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_flags(parser)
