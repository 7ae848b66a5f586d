"""``run_search.py predict``: score image files with a trained ``model.pt`` or an exported ``.onnx``.

Writes ``DIR/predictions.csv`` (or ``.parquet``) and ``DIR/overlays/<stem>.png``; with
``--skip-unreadable``, images that cannot be read are left out and listed in ``DIR/skipped.csv``.
With an ``.onnx`` model nothing here imports torch, timm or FrEIA.
Everything is written into a hidden staging folder beside ``DIR`` first and
moved into place only when every image was scored, so a failed run leaves
``DIR`` as it was.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.output_paths import check_output_folder
from ssflow.calibration import ChosenThreshold, choose_threshold
from ssflow.errors import UserInputError
from ssflow.model_files import open_model
from ssflow.overlay import heatmap_overlay, side_by_side, write_png
from ssflow.predict import IMAGE_SUFFIXES, OpenedModel, Prediction, find_images, score_images
from ssflow.thresholds import check_rate

OVERLAYS = "overlays"
SKIPPED = "skipped.csv"
LISTED = 10


class Unreadable(NamedTuple):
    path: str
    reason: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="a model.pt written by 'train', or a .onnx written by 'export-model' (runs on "
                             "ONNX Runtime, no torch needed)")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                        help=f"image files, or folders whose {'/'.join(IMAGE_SUFFIXES)} files are scored "
                             "(sorted by path; subfolders only with --recursive)")
    parser.add_argument("--recursive", action="store_true", help="also take images from subfolders")
    parser.add_argument("--out", required=True,
                        help="output folder; its predictions file and overlays/ folder are replaced")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="predictions file format")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=16, help="images scored at once (default 16)")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help=f"leave out images that cannot be read (listed in OUT/{SKIPPED}) instead of stopping")
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument("--threshold", type=float, default=None, metavar="VALUE",
                           help="flag images with score >= VALUE (default: the calibrated best-F1 threshold)")
    threshold.add_argument("--max-fpr", type=float, default=None, metavar="RATE",
                           help="use the lowest threshold that flags at most RATE (e.g. 0.01) of the normal "
                                "calibration images; any rate in (0, 1)")


def _check_request(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise UserInputError(f"--batch-size {args.batch_size}: expected an integer >= 1")
    if args.max_fpr is not None:
        check_rate(args.max_fpr)  # before a model is loaded; the model's calibration is checked later
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise UserInputError(f"--threshold {args.threshold}: expected a finite image score")
    out = Path(args.out)
    check_output_folder(out)


def _outside(paths: list[Path], out: Path) -> list[Path]:
    """``paths`` less those below ``out``: an output folder inside the inputs holds the last run's overlays."""
    below = out.resolve()
    kept = [path for path in paths if below not in path.resolve().parents]
    if not kept:
        raise UserInputError(f"no images to score: every image found is below --out {out}, which holds "
                             "earlier results")
    return kept


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
    paths = _outside(find_images(args.inputs, args.recursive), Path(args.out))
    model = open_model(args.model, args.device)
    chosen = choose_threshold(model.calibration, args.threshold, args.max_fpr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    skipped: list[Unreadable] | None = [] if args.skip_unreadable else None
    names = dict(zip(map(str, paths), overlay_names(paths)))  # overlay file per input path
    try:
        predictions = _score_into(staging, model, chosen.value, paths, names, args.batch_size, console, skipped)
        table_name = f"predictions.{args.format}"
        _write_table(predictions, names, staging / table_name, args.format)
        if skipped:
            pd.DataFrame(skipped, columns=Unreadable._fields).to_csv(staging / SKIPPED, index=False)
        _publish(staging, out, table_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _print_summary(console, predictions, chosen, model, out / table_name)
    if skipped:
        console.print(f"[bold]skipped {len(skipped)} unreadable image{'s' if len(skipped) != 1 else ''}[/] "
                      f"({escape(', '.join(Path(item.path).name for item in skipped[:3]))}"
                      f"{', ...' if len(skipped) > 3 else ''}): listed with reasons in {out / SKIPPED}")
    return 0


def _score_into(staging: Path, model: OpenedModel, threshold: float, paths: list[Path], names: dict[str, str],
                batch_size: int, console: Console, skipped: list[Unreadable] | None) -> list[Prediction]:
    """Score every path, writing overlays (file ``names[path]``) into ``staging/overlays``; the predictions in order.

    With ``skipped`` (a list), unreadable images are appended to it and left out; without, the first stops
    the run (one line).
    """
    folder = staging / OVERLAYS
    folder.mkdir()
    calibration = model.calibration
    predictions: list[Prediction] = []
    with _progress(console) as progress:
        task = progress.add_task("scoring", total=len(paths))

        def leave_out(path: Path, reason: str) -> None:  # passed only when ``skipped`` is a list
            assert skipped is not None
            skipped.append(Unreadable(str(path), reason))
            progress.advance(task, 1)

        try:
            for batch in score_images(model, paths, threshold, batch_size,
                                      leave_out if skipped is not None else None):
                for scored in batch:
                    # The calibration's fixed range keeps colours comparable across images and runs.
                    overlay = heatmap_overlay(scored.image, scored.anomaly_map, calibration.map_low,
                                              calibration.map_high)
                    write_png(folder / names[scored.prediction.path], side_by_side(scored.image, overlay))
                    predictions.append(scored.prediction)
                progress.advance(task, len(batch))
        except UserInputError as error:
            if skipped is not None:
                raise
            raise UserInputError(f"{error} (--skip-unreadable scores the other images)") from None
    if not predictions and skipped:
        raise UserInputError(f"no image could be read ({len(paths)} tried; first: {skipped[0].reason}); "
                             "nothing written")
    return predictions


def _write_table(predictions: list[Prediction], names: dict[str, str], path: Path, file_format: str) -> None:
    """The predictions table; ``names``: the overlay file name of each prediction's path."""
    frame = pd.DataFrame(predictions, columns=Prediction._fields)
    frame["overlay"] = [f"{OVERLAYS}/{names[prediction.path]}" for prediction in predictions]
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
    for earlier in out.glob("predictions.*"):  # a file of the other format would describe old overlays
        if earlier.name != table_name:
            earlier.unlink()
    if (staging / SKIPPED).exists():
        (staging / SKIPPED).replace(out / SKIPPED)
    else:
        (out / SKIPPED).unlink(missing_ok=True)  # it listed an earlier run's unreadable images
    (staging / table_name).replace(out / table_name)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _print_summary(console: Console, predictions: list[Prediction], chosen: ChosenThreshold, model: OpenedModel,
                   table_path: Path) -> None:
    flagged = sorted((p for p in predictions if p.anomalous), key=lambda p: -p.score)
    scored = f"{len(predictions)} image{'s' if len(predictions) != 1 else ''}"
    console.print(f"scored {scored}: [bold]{len(flagged)} anomalous[/] (score >= threshold {chosen.value:.6g}: "
                  f"{chosen.rule})")
    console.print(f"model {escape(model.path)} on {model.runs_on}")
    if flagged:
        table = Table(title=f"most anomalous (first {min(LISTED, len(flagged))})", title_justify="left")
        for column in ("image", "score", "normalized"):
            table.add_column(column, justify="left" if column == "image" else "right")
        for prediction in flagged[:LISTED]:
            table.add_row(escape(prediction.path), f"{prediction.score:.4g}", f"{prediction.normalized_score:.3f}")
        console.print(table)
    console.print(f"wrote {table_path} and {table_path.parent / OVERLAYS}/")
