"""The flags of ``run_search.py export``, declared apart so ``--help`` answers without pandas."""

from __future__ import annotations

import argparse

PORTFOLIO_SIZE = 4  # configs in a portfolio at most, unless --portfolio-size says otherwise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default=None,
                        help="experiment name (the search's --name); with only --portfolio: default every sweep "
                             "in the store")
    parser.add_argument("--out", default=None, help="export file to write, e.g. best.yaml")
    parser.add_argument("--portfolio", default=None, metavar="FILE",
                        help="write a portfolio instead (or as well): the few configs best or near-best on the "
                             "most categories, for a new sweep's --portfolio")
    parser.add_argument("--portfolio-size", type=int, default=PORTFOLIO_SIZE, metavar="N",
                        help=f"configs in the portfolio at most (default {PORTFOLIO_SIZE})")
    parser.add_argument("--storage", default="runs", help="the search's --storage folder or URI (default runs)")
    parser.add_argument("--dataset", default=None, help="only this dataset, e.g. mvtec")
    parser.add_argument("--max-latency-ms", type=float, default=None, metavar="MS",
                        help="the best config whose measured inference latency (ms per image, batch 1) is within MS")
