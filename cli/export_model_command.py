"""``run_search.py export-model``: a ``model.pt`` as one ONNX graph for ONNX Runtime or OpenVINO.

The file is checked before it is written (ONNX Runtime against torch on a few
images, see :mod:`ssflow.onnx_export`); a file that disagrees is refused and
``--out`` is left as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from cli.threshold_view import print_thresholds
from ssflow.datasets.images import read_image
from ssflow.errors import UserInputError
from ssflow.model_files import ONNX, model_kind
from ssflow.model_io import load_model
from ssflow.onnx_export import ExportMismatch, export_onnx
from ssflow.predict import find_images

CHECK_IMAGES = 8  # at most this many of --images are compared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model.pt written by 'train'")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="output format (onnx)")
    parser.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    parser.add_argument("--images", nargs="+", default=None, metavar="IMAGE_OR_FOLDER",
                        help=f"images to check the export on (the first {CHECK_IMAGES}); "
                             "default: generated test images")


def _check_request(args: argparse.Namespace) -> Path:
    if model_kind(args.model) == ONNX:
        raise UserInputError(f"--model {args.model}: already an ONNX file; export-model takes a model.pt "
                             "written by 'train'")
    out = Path(args.out)
    if out.is_dir():
        raise UserInputError(f"--out {out}: is a folder; name the file to write, e.g. {out / 'model.onnx'}")
    if out.resolve() == Path(args.model).resolve():
        raise UserInputError(f"--out {out}: is the model file itself; name another file, e.g. model.onnx")
    return out


def _check_images(inputs: list[str] | None, size: int) -> np.ndarray | None:
    if not inputs:
        return None
    return np.stack([read_image(path, size) for path in find_images(inputs)[:CHECK_IMAGES]])


def _training_summary(model_path: Path) -> dict[str, Any] | None:
    """``metrics.json`` beside the model (written by ``train``), when it is there and readable."""
    try:
        return json.loads((model_path.parent / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run(args: argparse.Namespace, console: Console) -> int:
    out = _check_request(args)
    model = load_model(args.model, "cpu")
    images = _check_images(args.images, model.config.backbone.image_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        check = export_onnx(model, out, images)
    except ExportMismatch as error:
        console.print(f"[red]export refused[/]: {error}; {out} was not written")
        return 1
    size_mb = out.stat().st_size / 2 ** 20
    console.print(f"wrote {out} ({size_mb:.1f} MB): ONNX Runtime matches torch on {check.images} "
                  f"{'given' if images is not None else 'generated'} images (scores within "
                  f"{check.score_relative_difference:.1g} relative, maps within {check.map_absolute_difference:.1g})")
    print_thresholds(console, model.calibration, _training_summary(Path(args.model)))
    return 0
