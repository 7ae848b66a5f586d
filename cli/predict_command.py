"""``run_search.py predict``: score image files with a trained ``model.pt``.

Writes ``DIR/predictions.csv`` (or ``.parquet``) and ``DIR/overlays/<stem>.png``.
Everything is written into a hidden staging folder beside ``DIR`` first and
moved into place only when every image was scored, so a failed run leaves
``DIR`` as it was.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ssflow.backbone import FeatureExtractor, build_backbone
from ssflow.errors import UserInputError
from ssflow.model_io import LoadedModel, load_model
from ssflow.overlay import heatmap_overlay, side_by_side, write_png
from ssflow.predict import IMAGE_SUFFIXES, Prediction, find_images, score_images
from ssflow.train import resolve_device

OVERLAYS = "overlays"
LISTED = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model.pt written by 'train'")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                        help=f"image files, or folders whose {'/'.join(IMAGE_SUFFIXES)} files are scored "
                             "(sorted by path; subfolders only with --recursive)")
    parser.add_argument("--recursive", action="store_true", help="also take images from subfolders")
    parser.add_argument("--out", required=True,
                        help="output folder; its predictions file and overlays/ folder are replaced")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="predictions file format")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=16, help="images scored at once (default 16)")


def _check_request(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size {args.batch_size}: expected an integer >= 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda: no CUDA device is available here; use --device auto or cpu")


def overlay_names(paths: Sequence[Path]) -> list[str]:
    """``<stem>.png`` per path; stems shared by several inputs get their suffix, then a counter, added."""
    stems = Counter(path.stem for path in paths)
    names = [path.stem if stems[path.stem] == 1 else f"{path.stem}_{path.suffix.lstrip('.')}" for path in paths]
    counts = Counter(names)
    taken: Counter[str] = Counter()
    unique = []
    for name in names:
        taken[name] += 1
        unique.append(name if counts[name] == 1 else f"{name}_{taken[name]}")
    return [f"{name}.png" for name in unique]


def run(args: argparse.Namespace, console: Console) -> int:
    _check_request(args)
    device = resolve_device(args.device)
    paths = find_images(args.inputs, args.recursive)
    model = load_model(args.model, device)
    backbone = build_backbone(model.config.backbone.name, model.config.backbone.levels,
                              model.config.backbone.weights, device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        predictions = _score_into(staging, model, backbone, paths, device, args.batch_size, console)
        table_name = f"predictions.{args.format}"
        _write_table(predictions, overlay_names(paths), staging / table_name, args.format)
        _publish(staging, out, table_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _print_summary(console, predictions, out / table_name)
    return 0


def _score_into(staging: Path, model: LoadedModel, backbone: FeatureExtractor, paths: list[Path],
                device: torch.device, batch_size: int, console: Console) -> list[Prediction]:
    """Score every path, writing overlays into ``staging/overlays``; the predictions in order."""
    folder = staging / OVERLAYS
    folder.mkdir()
    names = iter(overlay_names(paths))
    calibration = model.calibration
    predictions: list[Prediction] = []
    with _progress(console) as progress:
        task = progress.add_task("scoring", total=len(paths))
        for batch in score_images(model, backbone, paths, device, batch_size):
            for scored in batch:
                # The calibration's fixed range keeps colours comparable across images and runs.
                overlay = heatmap_overlay(scored.image, scored.anomaly_map, calibration.map_low, calibration.map_high)
                write_png(folder / next(names), side_by_side(scored.image, overlay))
                predictions.append(scored.prediction)
            progress.advance(task, len(batch))
    return predictions


def _write_table(predictions: list[Prediction], names: list[str], path: Path, file_format: str) -> None:
    frame = pd.DataFrame(predictions, columns=Prediction._fields)
    frame["overlay"] = [f"{OVERLAYS}/{name}" for name in names]
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _publish(staging: Path, out: Path, table_name: str) -> None:
    """Swap in the new overlays folder, then the predictions file (last: its presence means complete)."""
    out.mkdir(parents=True, exist_ok=True)
    old = out / f".{OVERLAYS}.old-{uuid.uuid4().hex}"
    if (out / OVERLAYS).exists():
        (out / OVERLAYS).replace(old)
    (staging / OVERLAYS).replace(out / OVERLAYS)
    shutil.rmtree(old, ignore_errors=True)
    (staging / table_name).replace(out / table_name)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _print_summary(console: Console, predictions: list[Prediction], table_path: Path) -> None:
    flagged = sorted((p for p in predictions if p.anomalous), key=lambda p: -p.score)
    threshold = predictions[0].threshold
    console.print(f"scored {len(predictions)} images: [bold]{len(flagged)} anomalous[/] "
                  f"(score >= threshold {threshold:.4g})")
    if flagged:
        table = Table(title=f"most anomalous (first {min(LISTED, len(flagged))})", title_justify="left")
        for column in ("image", "score", "z-score"):
            table.add_column(column, justify="left" if column == "image" else "right")
        for prediction in flagged[:LISTED]:
            table.add_row(escape(prediction.path), f"{prediction.score:.4g}", f"{prediction.normalized_score:.2f}")
        console.print(table)
    console.print(f"wrote {table_path} and {table_path.parent / OVERLAYS}/")
