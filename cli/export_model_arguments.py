"""The flags of ``run_search.py export-model``, declared apart from the export so ``--help`` answers
without torch."""

from __future__ import annotations

import argparse

CHECK_IMAGES = 8  # at most this many of --images are compared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model.pt written by 'train'")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="output format (onnx)")
    parser.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    parser.add_argument("--backbone-weights", default=None, metavar="FILE",
                        help="where the model's backbone weights file is now, if it was trained with one and moved "
                             "(the same file: its digest is checked)")
    parser.add_argument("--images", nargs="+", default=None, metavar="IMAGE_OR_FOLDER",
                        help=f"images to check the export on (the first {CHECK_IMAGES}); "
                             "default: generated test images")
