"""The flags of ``run_search.py show``, declared apart so ``--help`` answers without pandas or matplotlib."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default="runs", help="the search's --storage folder or URI (default runs)")
    parser.add_argument("--name", default=None, help="experiment name (default: every experiment in the store)")
    parser.add_argument("--dataset", default=None, help="only this dataset, e.g. mvtec")
    parser.add_argument("--top", type=int, default=10, help="trials listed per category (default 10)")
    parser.add_argument("--plot", default=None, metavar="DIR",
                        help="also write learning-curve and hyperparameter PNGs per category into DIR")
