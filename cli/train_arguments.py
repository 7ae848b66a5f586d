"""The flags of ``run_search.py train``, declared apart from training so ``--help`` answers without torch."""

from __future__ import annotations

import argparse

from search.sweep_flags import DATA_ROOT_HELP, LEAKAGE_HELP
from ssflow.datasets import DATASETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=list(DATASETS), default=None)
    parser.add_argument("--category", default=None, help="dataset category, e.g. bottle, 01, Class1")
    parser.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    parser.add_argument("--config", default=None,
                        help="a config YAML, an export file from 'export', or a preset name (default, paper)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override one config key, e.g. --set flow.coupling_blocks=8 (repeatable)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--shots", type=int, default=None, help="train on k normal images (few-shot)")
    parser.add_argument("--backbone", default=None, help="timm model name")
    parser.add_argument("--backbone-weights", default=None, help="local weights file for the backbone")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--drop-outliers", action="store_true",
                        help="train again without the training images the first model scores far above the rest "
                             "(likely defects among the good images; listed in OUT/train_outliers.csv either way)")
    add_leakage_flag(parser)
    parser.add_argument("--shifted-test", default=None, metavar="DIR",
                        help="also score a second test set, e.g. the test parts photographed under changed lighting: "
                             "a data root in the layout of --dataset holding the category (its test images are "
                             "used); its metrics and the change from the report split go to metrics.json")
    parser.add_argument("--export", choices=["onnx"], default=None,
                        help="also write model.onnx (see export-model), checked against torch on report images")


def add_leakage_flag(parser: argparse.ArgumentParser) -> None:
    """``--allow-leakage``, shared by train and the sweep."""
    parser.add_argument("--allow-leakage", action="store_true", help=LEAKAGE_HELP)
