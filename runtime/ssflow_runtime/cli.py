"""``ssflow-predict``: the station's command. Scores images with an exported ``.onnx`` model, no torch.

The same flags and outputs as ``ssflow-search predict`` (:mod:`ssflow_runtime.predict_request`); a user
mistake is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ssflow_runtime import __version__
from ssflow_runtime.errors import UserInputError
from ssflow_runtime.model_kind import ONNX, model_kind
from ssflow_runtime.one_line_parser import EXIT_USAGE, OneLineParser
from ssflow_runtime.onnx_model import open_onnx_model
from ssflow_runtime.predict import PredictResult, run_predict
from ssflow_runtime.predict_request import MAPS, OVERLAYS, REGIONS, SKIPPED, add_predict_arguments, request_from_args
from ssflow_runtime.scoring import OpenedModel
from ssflow_runtime.text import plain

LISTED = 10


def parser() -> argparse.ArgumentParser:
    """``ssflow-predict``'s argument parser."""
    result = OneLineParser(prog="ssflow-predict",
                            description="score images with an exported ssflow .onnx model (no torch needed)")
    result.add_argument("--version", action="version", version=f"ssflow-runtime {__version__}")
    add_predict_arguments(result)
    return result


def _open(path: str, device: str) -> OpenedModel:
    if Path(path).is_dir():
        raise UserInputError(f"--model {path}: is a folder; name the .onnx file in it (e.g. {Path(path) / 'model.onnx'})")
    if model_kind(path) != ONNX:
        raise UserInputError(f"--model {path}: a model.pt needs torch; ssflow-predict runs .onnx models (make one "
                             "with 'ssflow-search export-model --model model.pt --out model.onnx', or score it with "
                             "'ssflow-search predict')")
    return open_onnx_model(path, device)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rscoring {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def _print_summary(result: PredictResult, save_maps: bool) -> None:
    flagged = sorted((p for p in result.predictions if p.anomalous), key=lambda p: -p.score)
    count = len(result.predictions)
    print(f"scored {count} image{'s' if count != 1 else ''}: {len(flagged)} anomalous "
          f"(score >= threshold {result.chosen.value:.6g}: {result.chosen.rule})")
    print(f"model {plain(result.model.path)} on {result.model.runs_on}")
    if flagged:
        print(f"most anomalous (first {min(LISTED, len(flagged))} of {len(flagged)}):")
    for prediction in flagged[:LISTED]:
        print(f"  {plain(prediction.path)}  score {prediction.score:.4g}  normalized {prediction.normalized_score:.3f}")
    if len(flagged) > LISTED:
        print(f"  ... {len(flagged) - LISTED} more anomalous images in {plain(str(result.table_path))}")
    out = result.table_path.parent
    maps = f", {out / MAPS}/" if save_maps else ""
    print(plain(f"wrote {result.table_path}, {out / REGIONS}, {out / OVERLAYS}/{maps}"))
    if result.skipped:
        print(plain(f"skipped {len(result.skipped)} unreadable image(s): listed with reasons in {out / SKIPPED}"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ssflow-predict`` with ``argv`` (default: the process's); returns the exit code."""
    args = parser().parse_args(argv)
    try:
        request = request_from_args(args)
        result = run_predict(request, lambda: _open(args.model, request.device), _progress)
    except UserInputError as error:
        print(f"error: {plain(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    _print_summary(result, request.save_maps)
    return 0


def entry() -> None:
    """The console script: exit with :func:`main`'s code."""
    sys.exit(main())
