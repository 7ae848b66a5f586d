"""The sweep's flags (``run_search.py --dataset D ...``), declared apart from the sweep so ``--help`` and a
mistyped flag answer without importing Ray or torch."""

from __future__ import annotations

import argparse

from cli.resolve import DATA_ROOT_HELP
from cli.train_arguments import add_leakage_flag
from search.options import OBJECTIVES
from ssflow.datasets import DATASETS

DEFAULT_SAMPLES = 12  # searched trials per category without --num-samples or --time-budget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=list(DATASETS))
    parser.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    parser.add_argument("--categories", nargs="+", default=None, help="default: every category found")
    parser.add_argument("--space", default=None,
                        help="space YAML or a shipped name (default, wide, paper, demo, backbones, highres)")
    parser.add_argument("--num-samples", type=int, default=None,
                        help="searched trials per category, portfolio, base config and warm starts included "
                             f"(default: {DEFAULT_SAMPLES}, or as many as --time-budget allows)")
    parser.add_argument("--time-budget", default=None, metavar="DURATION",
                        help="wall time for the whole sweep over all categories, finalists included, e.g. 90s, "
                             "20m, 2h; with --num-samples whichever ends first. Every category keeps an "
                             "exportable config")
    parser.add_argument("--portfolio", default=None, metavar="FILE",
                        help="configs tried first in every category, before the base config (write one with "
                             "'export --portfolio FILE'; the shipped one: spaces/portfolios/demo-hard.yaml)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="full budget of a trial (ASHA max_t; default: the space's fixed train.epochs, "
                             "else the base config's)")
    parser.add_argument("--grace-period", type=int, default=1, help="epochs before ASHA may prune")
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="trials at once over all categories (default: the cluster's CPUs / --cpus-per-trial)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--max-failures", type=int, default=2,
                        help="retries of a trial that crashed, each from its last checkpoint (0: none)")
    parser.add_argument("--gpus-per-trial", type=float, default=None,
                        help="fractions pack several trials per GPU (default: 1 on a CUDA machine, else 0)")
    parser.add_argument("--address", default=None,
                        help="an existing Ray cluster, e.g. 10.0.0.5:6379 or auto (local, or no address: a new "
                             "local Ray)")
    parser.add_argument("--storage", default="runs", help="folder or URI (s3://...) for results and checkpoints")
    parser.add_argument("--optuna-storage", default=None, metavar="URL",
                        help="database of the Optuna studies (default: sqlite file optuna.db in a folder --storage)")
    parser.add_argument("--name", default=None, help="experiment name (default: <dataset>-<space>-<date>-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep of --name")
    add_leakage_flag(parser)
    parser.add_argument("--take-over", action="store_true",
                        help="take the sweep's driver lease from a driver that no longer runs (one on another "
                             "machine that died; a stopped driver on this machine is noticed without it)")
    parser.add_argument("--objective", default="quality", choices=OBJECTIVES, metavar="|".join(OBJECTIVES),
                        help="quality: selection-split image AUROC and AUPRO (default); synthetic: tune on synthetic "
                             "validation anomalies only (no labelled defect needed); quality,latency: also minimise "
                             "inference latency (Pareto front)")
    parser.add_argument("--finalists", type=int, default=3,
                        help="top configs per category retrained with extra seeds before the study ends (0: none)")
    parser.add_argument("--finalist-seeds", type=int, default=2, help="extra training seeds per finalist")
    parser.add_argument("--warm-start", default=None, metavar="NAME",
                        help="an earlier sweep in --storage whose best configs are tried right after the base config")
    parser.add_argument("--config", default=None, help="base config YAML or preset: the first trial of every study")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a base config key")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--feature-cache", default=None, metavar="DIR",
                        help="where trials share clean-image backbone features and synthetic banks "
                             "(default: <storage>/feature_cache "
                             "for a local storage, ~/.cache/ssflow/features otherwise); 'off' disables it")
