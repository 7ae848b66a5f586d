"""``ssflow-search predict``: score image files with a trained ``model.pt`` or an exported ``.onnx``.

The run itself (outputs, staging, owned folder) is the station runtime's
:func:`ssflow_runtime.predict.run_predict`, the code behind ``ssflow-predict``;
this command adds ``model.pt`` files (torch, imported only for them) and a rich
progress bar and summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.data_notes import squash_note
from cli.shown_text import shown
from ssflow.deployment.model_files import open_model
from ssflow_runtime.predict import PredictResult, run_predict
from ssflow_runtime.predict_request import MAPS, OVERLAYS, REGIONS, SKIPPED, add_predict_arguments, request_from_args

LISTED = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_predict_arguments(parser)
    parser.add_argument("--backbone-weights", default=None, metavar="FILE",
                        help="where a model.pt's backbone weights file is now, if it was trained with one and moved "
                             "(the same file: its digest is checked)")


def run(args: argparse.Namespace, console: Console) -> int:
    request = request_from_args(args)
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("scoring", total=None)
    started: list[bool] = []

    def advance(done: int, total: int) -> None:
        if not started:  # the bar appears with the first scored images: a refusal before them stays one line
            progress.start()
            started.append(True)
        progress.update(task, completed=done, total=total)

    try:
        result = run_predict(request, lambda: open_model(args.model, request.device, args.backbone_weights or ""),
                             advance)
    finally:
        if started:
            progress.stop()
    _print_summary(console, result, request.save_maps)
    if result.squashed:
        console.print(f"[yellow]note[/]: {squash_note(result.squashed)} by this model (trained that way); a model "
                      "trained with it would read them as they are", soft_wrap=True)
    if result.skipped:
        skipped = result.skipped
        console.print(f"[bold]skipped {len(skipped)} unreadable image{'s' if len(skipped) != 1 else ''}[/] "
                      f"({shown(', '.join(Path(item.path).name for item in skipped[:3]))}"
                      f"{', ...' if len(skipped) > 3 else ''}): listed with reasons in "
                      f"{shown(result.table_path.parent / SKIPPED)}")
    return 0


def _print_summary(console: Console, result: PredictResult, save_maps: bool) -> None:
    flagged = sorted((p for p in result.predictions if p.anomalous), key=lambda p: -p.score)
    count = len(result.predictions)
    console.print(f"scored {count} image{'s' if count != 1 else ''}: [bold]{len(flagged)} anomalous[/] "
                  f"(score >= threshold {result.chosen.value:.6g}: {result.chosen.rule})")
    console.print(f"model {shown(result.model.path)} on {result.model.runs_on}")
    if flagged:
        table = Table(title=f"most anomalous (first {min(LISTED, len(flagged))})", title_justify="left")
        for column in ("image", "score", "normalized"):
            table.add_column(column, justify="left" if column == "image" else "right")
        for prediction in flagged[:LISTED]:
            table.add_row(shown(prediction.path), f"{prediction.score:.4g}", f"{prediction.normalized_score:.3f}")
        console.print(table)
    out = result.table_path.parent
    maps = f", {out / MAPS}/" if save_maps else ""
    console.print(shown(f"wrote {result.table_path}, {out / REGIONS}, {out / OVERLAYS}/{maps}"))
