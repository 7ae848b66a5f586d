"""``run_search.py export-model``: a ``model.pt`` as one ONNX graph for ONNX Runtime or OpenVINO.

The file is checked before it is written (ONNX Runtime against torch on a few
images, see :mod:`ssflow.deployment.onnx_export`); a file that disagrees is refused and
``--out`` is left as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from cli.export_model_arguments import CHECK_IMAGES
from ssflow_runtime.output_paths import check_output_file
from cli.threshold_view import print_thresholds
from ssflow_runtime.calibration import Calibration, choose_threshold
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import input_settings
from ssflow_runtime.images import decode, to_rgb
from ssflow_runtime.model_inputs import image_inputs
from ssflow.errors import UserInputError
from ssflow_runtime.model_kind import ONNX, model_kind
from ssflow.deployment.model_io import load_model
from ssflow.deployment.onnx_export import ExportMismatch, export_onnx
from ssflow_runtime.image_files import find_images


def _check_request(args: argparse.Namespace) -> Path:
    if model_kind(args.model) == ONNX:
        raise UserInputError(f"--model {args.model}: already an ONNX file; export-model takes a model.pt "
                             "written by 'train'")
    out = Path(args.out)
    check_output_file(out, ".onnx")
    if out.resolve() == Path(args.model).resolve():
        raise UserInputError(f"--out {out}: is the model file itself; name another file, e.g. model.onnx")
    return out


def _check_images(inputs: list[str] | None, config: SSFlowConfig) -> np.ndarray | None:
    """Up to :data:`CHECK_IMAGES` model inputs cut from the given images as the model cuts them (tiles or whole)."""
    if not inputs:
        return None
    settings = input_settings(config)
    tiles = [image_inputs(to_rgb(decode(path), settings.bit_depth, path), settings, str(path))[0]
             for path in find_images(inputs, recursive_flag=None)[:CHECK_IMAGES]]
    return np.concatenate(tiles)[:CHECK_IMAGES]


def _training_summary(model_path: Path, calibration: Calibration) -> tuple[dict[str, Any] | None, str | None]:
    """``metrics.json`` beside the model (written by ``train``) when it belongs to this model; else a note why not.

    It belongs when its thresholds are the model's: a file left by another
    training run would print another model's precision and recall.
    """
    path = model_path.parent / "metrics.json"
    if not path.is_file():
        return None, None
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, f"{path} is not readable JSON: report-split precision/recall not shown"
    stated = summary.get("threshold") if isinstance(summary, dict) else None
    value = stated.get("value") if isinstance(stated, dict) else None
    rates = {round(float(entry.get("value", "nan")), 9) for entry in summary.get("fpr_thresholds", [])
             if isinstance(entry, dict)} if isinstance(summary, dict) else set()
    if (not isinstance(value, (int, float)) or abs(value - choose_threshold(calibration).value) > 1e-9
            or rates != {round(value, 9) for _, value in calibration.fpr_thresholds}):
        return None, (f"{path} was not written with this model (its thresholds differ): "
                      "report-split precision/recall not shown")
    return summary, None


def run(args: argparse.Namespace, console: Console) -> int:
    out = _check_request(args)
    model = load_model(args.model, "cpu", args.backbone_weights or "")
    images = _check_images(args.images, model.config)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        check = export_onnx(model, out, images)
    except ExportMismatch as error:
        console.print(f"[red]export refused[/]: {error}; {out} was not written")
        return 1
    size_mb = out.stat().st_size / 2 ** 20
    inputs = f"{check.images} model input{'s' if check.images != 1 else ''}"
    console.print(f"wrote {out} ({size_mb:.1f} MB): ONNX Runtime matches torch on {inputs} "
                  f"({'cut from the given images' if images is not None else 'generated'}; scores within "
                  f"{check.score_relative_difference:.1g} relative, maps within {check.map_absolute_difference:.1g})")
    summary, note = _training_summary(Path(args.model), model.calibration)
    if note:
        console.print(f"[yellow]note[/]: {note}")
    print_thresholds(console, model.calibration, summary)
    return 0
