"""``run_search.py predict``: score image files with a trained ``model.pt`` or an exported ``.onnx``.

Writes ``DIR/predictions.csv`` (or ``.parquet``), ``DIR/regions.csv`` (one row per defect region of every
flagged image, in the image's own pixels) and ``DIR/overlays/<stem>.png`` at the image's own size (or
``--overlay-size``); ``--save-maps`` adds ``DIR/maps/<stem>.npy``; with ``--skip-unreadable``, images that
cannot be read are left out and listed in ``DIR/skipped.csv``.
With an ``.onnx`` model nothing here imports torch, timm or FrEIA.
Everything is written into a hidden staging folder beside ``DIR`` first and
moved into place only when every image was scored, so a failed run leaves
``DIR`` as it was. ``DIR/.ssflow-outputs.json`` lists what predict wrote: a rerun replaces only that, and a
``DIR`` holding other files is refused unless ``--force`` (:mod:`cli.owned_outputs`).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd
import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.data_notes import squash_note
from cli.output_paths import check_output_folder
from cli.owned_outputs import check_owned_folder, publish
from cli.shown_text import plain, safe_part, shown
from ssflow.calibration import Calibration, ChosenThreshold, choose_threshold
from ssflow.errors import UserInputError
from ssflow.model_files import open_model
from ssflow.overlay import heatmap_overlay, side_by_side, write_png
from ssflow.predict import IMAGE_SUFFIXES, OpenedModel, Prediction, ScoredImage, find_images, score_images
from ssflow.regions import Region, find_regions
from ssflow.thresholds import check_rate

OVERLAYS = "overlays"
MAPS = "maps"
SKIPPED = "skipped.csv"
REGIONS = "regions.csv"
REGION_COLUMNS = ("path", *Region._fields)
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
    parser.add_argument("--backbone-weights", default=None, metavar="FILE",
                        help="where a model.pt's backbone weights file is now, if it was trained with one and moved "
                             "(the same file: its digest is checked)")
    parser.add_argument("--out", required=True,
                        help="output folder; what an earlier predict wrote there (predictions file, regions.csv, "
                             "overlays/, maps/) is replaced, a folder holding other files is refused")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out folder that holds files predict did not write (files with "
                             "predict's output names are replaced; nothing else is touched)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="predictions file format")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=16, help="images scored at once (default 16)")
    parser.add_argument("--save-maps", action="store_true",
                        help=f"also write each image's anomaly map as OUT/{MAPS}/<name>.npy (float32, the image's "
                             "own height x width)")
    parser.add_argument("--overlay-size", type=int, default=0, metavar="PX",
                        help="cap the longer side of each overlay panel (image | heatmap, side by side) at PX "
                             "pixels (default 0: each panel at the image's own size)")
    parser.add_argument("--min-region-px", type=int, default=1, metavar="PX",
                        help=f"leave regions smaller than PX pixels out of OUT/{REGIONS} (default 1)")
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
    if args.overlay_size < 0 or 0 < args.overlay_size < 16:
        raise UserInputError(f"--overlay-size {args.overlay_size}: expected 0 (the image's size) or >= 16 pixels")
    if args.min_region_px < 1:
        raise UserInputError(f"--min-region-px {args.min_region_px}: expected an integer >= 1")
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
    """Per path, its overlay's name below ``overlays/``: ``<folder>/<stem>.png``, the folder relative to the
    common folder of all inputs, so ``a/x.png`` and ``b/x.png`` keep apart; stems shared within one folder get
    their suffix, then a counter, added."""
    parents = [Path(os.path.normpath(path.absolute())).parent for path in paths]  # a/../b is b: never '..'
    root = Path(os.path.commonpath(parents)) if parents else Path()
    folders = [Path(*map(safe_part, parent.relative_to(root).parts)) for parent in parents]
    stems = [safe_part(path.stem) for path in paths]
    shared = Counter(zip(folders, stems))
    names = [folder / (stem if shared[(folder, stem)] == 1 else f"{stem}_{safe_part(path.suffix.lstrip('.'))}")
             for folder, stem, path in zip(folders, stems, paths)]
    counts = Counter(names)
    taken: Counter[Path] = Counter()
    unique = []
    for name in names:
        taken[name] += 1
        unique.append(name if counts[name] == 1 else name.with_name(f"{name.name}_{taken[name]}"))
    return [f"{name.as_posix()}.png" for name in unique]


class Outputs(NamedTuple):
    """What predict writes besides the predictions table."""

    save_maps: bool
    overlay_size: int  # 0: the image's own size
    min_region_px: int


class Scored(NamedTuple):
    prediction: Prediction
    regions: list[Region]  # of a flagged image; [] for the others
    squashed: bool  # a non-square image resized to the model's square input (its aspect ratio lost)


def run(args: argparse.Namespace, console: Console) -> int:
    _check_request(args)
    owned = check_owned_folder(Path(args.out), "predict", args.force)
    paths = _outside(find_images(args.inputs, args.recursive), Path(args.out))
    model = open_model(args.model, args.device, args.backbone_weights or "")
    chosen = choose_threshold(model.calibration, args.threshold, args.max_fpr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    skipped: list[Unreadable] | None = [] if args.skip_unreadable else None
    names = dict(zip(map(str, paths), overlay_names(paths)))  # overlay file per input path
    outputs = Outputs(args.save_maps, args.overlay_size, args.min_region_px)
    try:
        scored = _score_into(staging, model, chosen.value, paths, names, args.batch_size, console, skipped, outputs)
        table_name = f"predictions.{args.format}"
        _write_table(scored, names, staging / table_name, args.format, outputs.save_maps)
        _write_regions(scored, staging / REGIONS)
        if skipped:
            pd.DataFrame([(plain(item.path), plain(item.reason)) for item in skipped],
                         columns=Unreadable._fields).to_csv(staging / SKIPPED, index=False)
        publish(staging, out, owned, last=table_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    predictions = [item.prediction for item in scored]
    _print_summary(console, predictions, chosen, model, out / table_name, outputs.save_maps)
    squashed = sum(item.squashed for item in scored)
    if squashed:
        console.print(f"[yellow]note[/]: {squash_note(squashed)} by this model (trained that way); a model trained "
                      "with it would read them as they are", soft_wrap=True)
    if skipped:
        console.print(f"[bold]skipped {len(skipped)} unreadable image{'s' if len(skipped) != 1 else ''}[/] "
                      f"({shown(', '.join(Path(item.path).name for item in skipped[:3]))}"
                      f"{', ...' if len(skipped) > 3 else ''}): listed with reasons in {out / SKIPPED}")
    return 0


def _capped(pixels: np.ndarray, longest: int) -> np.ndarray:
    """``pixels`` (H, W[, C]) shrunk so its longer side is at most ``longest`` (0: unchanged)."""
    height, width = pixels.shape[:2]
    if not longest or max(height, width) <= longest:
        return pixels
    factor = longest / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _write_outputs(staging: Path, scored: ScoredImage, name: str, calibration: Calibration,
                   outputs: Outputs) -> None:
    """The overlay (and with --save-maps the map) of one scored image."""
    image, anomaly_map = _capped(scored.image, outputs.overlay_size), _capped(scored.anomaly_map, outputs.overlay_size)
    # The calibration's fixed range keeps colours comparable across images and runs.
    overlay = heatmap_overlay(image, anomaly_map, calibration.map_low, calibration.map_high)
    (staging / OVERLAYS / name).parent.mkdir(parents=True, exist_ok=True)
    write_png(staging / OVERLAYS / name, side_by_side(image, overlay))
    if outputs.save_maps:
        (staging / MAPS / map_name(name)).parent.mkdir(parents=True, exist_ok=True)
        np.save(staging / MAPS / map_name(name), scored.anomaly_map.astype(np.float32, copy=False))


def map_name(overlay_name: str) -> str:
    """The ``maps/`` file of the image whose overlay is ``overlay_name``: same folder and name, ``.npy``."""
    return Path(overlay_name).with_suffix(".npy").as_posix()


def _score_into(staging: Path, model: OpenedModel, threshold: float, paths: list[Path], names: dict[str, str],
                batch_size: int, console: Console, skipped: list[Unreadable] | None,
                outputs: Outputs) -> list[Scored]:
    """Score every path, writing overlays (file ``names[path]``) and maps into ``staging``; results in order.

    With ``skipped`` (a list), unreadable images are appended to it and left out; without, the first stops
    the run (one line).
    """
    (staging / OVERLAYS).mkdir()
    if outputs.save_maps:
        (staging / MAPS).mkdir()
    results: list[Scored] = []
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
                    _write_outputs(staging, scored, names[scored.prediction.path], model.calibration, outputs)
                    regions = find_regions(scored.anomaly_map, threshold, outputs.min_region_px) \
                        if scored.prediction.anomalous else []
                    height, width = scored.image.shape[:2]
                    squashes = not model.inputs.tile_size and not model.inputs.keep_aspect and height != width
                    results.append(Scored(scored.prediction, regions, squashes))
                progress.advance(task, len(batch))
        except UserInputError as error:
            if skipped is not None:
                raise
            raise UserInputError(f"{error} (--skip-unreadable scores the other images)") from None
    if not results and skipped:
        raise UserInputError(f"no image could be read ({len(paths)} tried; first: {skipped[0].reason}); "
                             "nothing written")
    return results


def _write_table(scored: list[Scored], names: dict[str, str], path: Path, file_format: str, save_maps: bool) -> None:
    """The predictions table; ``names``: the overlay file name of each prediction's path."""
    # a UTF-8 table whatever bytes the file names hold
    frame = pd.DataFrame([item.prediction._replace(path=plain(item.prediction.path)) for item in scored],
                         columns=Prediction._fields)
    overlays = [names[item.prediction.path] for item in scored]
    frame["overlay"] = [f"{OVERLAYS}/{name}" for name in overlays]
    frame["map"] = [f"{MAPS}/{map_name(name)}" if save_maps else "" for name in overlays]
    frame["regions"] = [len(item.regions) for item in scored]
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _write_regions(scored: list[Scored], path: Path) -> None:
    """``regions.csv``: one row per region of every flagged image (header only when there is none)."""
    rows = [(plain(item.prediction.path), *region) for item in scored for region in item.regions]
    pd.DataFrame(rows, columns=list(REGION_COLUMNS)).to_csv(path, index=False)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _print_summary(console: Console, predictions: list[Prediction], chosen: ChosenThreshold, model: OpenedModel,
                   table_path: Path, save_maps: bool) -> None:
    flagged = sorted((p for p in predictions if p.anomalous), key=lambda p: -p.score)
    scored = f"{len(predictions)} image{'s' if len(predictions) != 1 else ''}"
    console.print(f"scored {scored}: [bold]{len(flagged)} anomalous[/] (score >= threshold {chosen.value:.6g}: "
                  f"{chosen.rule})")
    console.print(f"model {shown(model.path)} on {model.runs_on}")
    if flagged:
        table = Table(title=f"most anomalous (first {min(LISTED, len(flagged))})", title_justify="left")
        for column in ("image", "score", "normalized"):
            table.add_column(column, justify="left" if column == "image" else "right")
        for prediction in flagged[:LISTED]:
            table.add_row(shown(prediction.path), f"{prediction.score:.4g}", f"{prediction.normalized_score:.3f}")
        console.print(table)
    maps = f", {table_path.parent / MAPS}/" if save_maps else ""
    console.print(shown(f"wrote {table_path}, {table_path.parent / REGIONS}, {table_path.parent / OVERLAYS}/{maps}"))
