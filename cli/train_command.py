"""``run_search.py train``: train and evaluate one category, write a model folder."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cli.data_notes import data_notes
from ssflow_runtime.output_paths import check_output_folder
from ssflow_runtime.owned_outputs import owned_files, publish, remove_owned
from cli.resolve import resolve_config
from cli.shifted_report import print_shifted, shifted_summary
from ssflow_runtime.text import plain, safe_part
from cli.shown_text import shown
from cli.table_format import metric
from cli.threshold_view import print_thresholds
from ssflow.model.backbone import FeatureExtractor
from ssflow.evaluation.calibration import threshold_summary
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import save_config_file
from ssflow.datasets.prepared import PreparedData, data_root, plan_splits, prepare_data, tuned_label_free
from ssflow.datasets import list_categories
from ssflow.errors import UserInputError
from ssflow_runtime.images import decode, to_rgb
from ssflow.evaluation.evaluate import evaluate
from ssflow.model.features import extract_features
from ssflow.datasets.leakage import check_leakage, leak_line
from ssflow.deployment.model_io import LoadedModel, save_model
from ssflow.deployment.onnx_export import ExportCheck, ExportMismatch, export_onnx
from ssflow_runtime.overlay import heatmap_overlay, side_by_side, write_png
from ssflow.training.run_inputs import RunInputs, prepare_run
from ssflow.evaluation.shifted_test import shifted_test
from ssflow.devices import resolve_device
from ssflow.training.train import EpochReport, FitResult, fit
from ssflow.training.train_outliers import OUTLIER_Z, TrainOutlier, find_outliers, image_scores, without_images

OVERLAY_COUNT = 6
OUTLIERS_FILE = "train_outliers.csv"
LISTED_OUTLIERS = 3
TRAIN_OUTPUTS = ("model.pt", "model.onnx", "metrics.json", "config.yaml", OUTLIERS_FILE)  # besides overlay_*.png
FAILED_RUN = "failed-run"  # where a run without a model writes its config and metrics when --out holds a model
EXPORT_CHECK_IMAGES = 4  # report images the ONNX export is checked on


def _with_category(config: SSFlowConfig) -> SSFlowConfig:
    """The config with its category: the one given, or the dataset's only one (e.g. a one-file manifest)."""
    if config.data.category:
        return config
    found = list_categories(config.data.dataset, data_root(config.data))
    if len(found) != 1:
        raise UserInputError(f"train needs --category (or an export file holding one category); "
                             f"{config.data.dataset} has {', '.join(found)}")
    return dataclasses.replace(config, data=dataclasses.replace(config.data, category=found[0]))


def _split_summary(result: FitResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "reason": result.reason,
        "epochs": result.epochs,
        "seconds": round(result.seconds, 3),
        "objective": result.objective,
        "selection": result.selection._asdict() if result.selection else None,
        "report": result.report._asdict() if result.report else None,
        "synthetic_validation": result.validation._asdict() if result.validation else None,
    }


def _overlay_rows(data: PreparedData) -> np.ndarray:
    """A few report images, anomalous first, so the overlays show defects and normal texture."""
    labels = data.report.labels
    anomalous, normal = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    return np.concatenate([anomalous[:OVERLAY_COUNT - 2], normal[:2]])


class ReportScores(NamedTuple):
    scores: np.ndarray  # (N,) image scores of the report split
    maps: np.ndarray | tuple[np.ndarray, ...]  # per image, stitched, at the size of its mask


def _score_report(data: PreparedData, result: FitResult, backbone: FeatureExtractor, config: SSFlowConfig,
                  device: torch.device) -> ReportScores:
    features = extract_features(backbone, data.report.images, device)
    evaluation = evaluate(result.flow, features, data.report, config.map, "report")
    return ReportScores(evaluation.scores, evaluation.maps)


def _image_at(path: str, shape: tuple[int, int], bit_depth: int) -> np.ndarray:
    """The image file at ``path`` as RGB uint8 resized to ``shape`` (H, W), the size of its map."""
    pixels = to_rgb(decode(Path(path)), bit_depth, Path(path))
    return cv2.resize(pixels, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _write_overlays(folder: Path, data: PreparedData, result: FitResult, report: ReportScores,
                    bit_depth: int) -> None:
    calibration = result.calibration
    for row in _overlay_rows(data):
        image_map = report.maps[row]
        image = _image_at(data.report.paths[row], image_map.shape, bit_depth)
        overlay = heatmap_overlay(image, image_map, calibration.map_low, calibration.map_high,
                                  data.report.masks[row])
        source = Path(data.report.paths[row])  # <defect type folder>_<stem>: stems repeat across defect types
        name = f"overlay_{safe_part(source.parent.name)}_{safe_part(source.stem)}_score{report.scores[row]:.3f}.png"
        write_png(folder / name, side_by_side(image, overlay))


def _export(staging: Path, config: SSFlowConfig, result: FitResult, data: PreparedData,
            backbone: FeatureExtractor) -> ExportCheck | str:
    """``model.onnx`` in ``staging``, checked on report images; the check, or why it was refused."""
    images = data.report.images[_overlay_rows(data)[:EXPORT_CHECK_IMAGES]]
    try:
        return export_onnx(LoadedModel(config, result.flow, result.calibration), staging / "model.onnx",
                           images, backbone)
    except ExportMismatch as error:
        return str(error)


def _publish(staging: Path, out: Path) -> None:
    """Move the finished files into ``out`` (:func:`cli.owned_outputs.publish`): what an earlier train wrote
    there and this one did not (overlays, model.onnx, a failed run's folder) is removed, so the folder never
    mixes two models; files train did not write stay."""
    owned = owned_files(out) or _written_by_older_versions(out)
    publish(staging, out, owned, last="metrics.json")  # metrics.json last: its presence means complete
    if (out / FAILED_RUN).is_dir():
        remove_owned(out / FAILED_RUN)  # it described a run older than this model


def _written_by_older_versions(out: Path) -> set[str]:
    """A folder written before train kept a marker: its known output names."""
    if not out.is_dir():
        return set()
    known = {path.name for path in out.glob("overlay_*.png")}
    return known | {name for name in TRAIN_OUTPUTS if (out / name).is_file()}


def _publish_beside(staging: Path, folder: Path) -> None:
    """Replace what train wrote in ``folder`` (below ``--out``) by the finished ``staging`` files."""
    publish(staging, folder, owned_files(folder), last="metrics.json")


def _fit(console: Console, config: SSFlowConfig, data: PreparedData, device: torch.device,
         inputs: RunInputs) -> FitResult:
    """:func:`ssflow.training.train.fit` under a progress bar."""
    with _progress(console) as progress:
        task = progress.add_task("training", total=config.train.epochs, objective=float("nan"))

        def on_epoch(report: EpochReport) -> None:
            progress.update(task, completed=report.epoch, objective=report.objective)

        return fit(config, data, device, on_epoch=on_epoch, inputs=inputs)


def _outliers(result: FitResult, inputs: RunInputs, data: PreparedData, config: SSFlowConfig) -> list[TrainOutlier]:
    """The training images the fitted model scores far above the rest (none without a model)."""
    if result.flow is None:
        return []
    paths, scores = image_scores(result.flow, inputs.features.train, data, config.map)
    return find_outliers(paths, scores)


def run(args: argparse.Namespace, console: Console) -> int:
    config = _with_category(resolve_config(args))
    device = resolve_device(args.device)
    out = Path(args.out)
    check_output_folder(out)
    tuned = tuned_label_free(config)
    if tuned.validation.label_free and not config.validation.label_free:
        config = tuned
        console.print(f"{config.data.dataset}/{config.data.category} has no anomalous test image: the model is "
                      "selected and calibrated on synthetic anomalies painted on held-out normal training images")
    leaks = check_leakage(plan_splits(config), args.allow_leakage)
    if leaks:
        console.print(f"[yellow]leakage[/]: {shown(leak_line(leaks, config.data.category))}; going on "
                      "(--allow-leakage): the report metrics are inflated", soft_wrap=True)
    data = prepare_data(config)
    shifted = shifted_test(config, args.shifted_test, data.report)  # read before training: a bad folder fails now
    inputs = prepare_run(config, data, device)
    backbone = inputs.backbone
    validation = f", {len(data.validation)} synthetic validation" if data.validation is not None else ""
    images = data.train_images or len(data.train)
    tiles = f" ({len(data.train)} tiles)" if len(data.train) != images else ""
    console.print(f"[bold]{config.data.dataset}/{config.data.category}[/]: {images}{tiles} training, "
                  f"{len(data.selection)} selection, {len(data.report)} report{validation} images on {device}")
    for note in data_notes(data, config.data.holdout_fraction):
        console.print(f"[dim]{note}[/]")
    result = _fit(console, config, data, device, inputs)
    outliers = _outliers(result, inputs, data, config)
    if outliers:
        console.print(f"[yellow]{len(outliers)} training image{'s' if len(outliers) != 1 else ''} score far above "
                      f"the rest[/] (modified z-score > {OUTLIER_Z:g}; likely defects: "
                      f"{shown(', '.join(Path(o.path).name for o in outliers[:LISTED_OUTLIERS]))}"
                      f"{', ...' if len(outliers) > LISTED_OUTLIERS else ''}): listed in {shown(out)}/"
                      f"{OUTLIERS_FILE}" + ("" if args.drop_outliers else "; --drop-outliers trains without them"),
                      soft_wrap=True)
    if outliers and args.drop_outliers:
        data = without_images(data, [outlier.path for outlier in outliers])
        inputs = prepare_run(config, data, device)
        backbone = inputs.backbone
        console.print(f"training again on {data.train_images or len(data.train)} images (--drop-outliers)")
        result = _fit(console, config, data, device, inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    summary: dict[str, Any] = {"dataset": config.data.dataset, "category": config.data.category,
                               "device": str(device), **_split_summary(result),
                               "train_outliers": [plain(outlier.path) for outlier in outliers],
                               "outliers_dropped": bool(outliers and args.drop_outliers),
                               "leakage_allowed": [[plain(leak.test_path), plain(leak.train_path), leak.kind]
                                                   for leak in leaks]}
    exported: ExportCheck | str | None = None
    try:
        save_config_file(config, staging / "config.yaml")
        if result.flow is not None:  # header only when nothing stood out: scripts can always read it
            frame = pd.DataFrame(outliers, columns=list(TrainOutlier._fields)).assign(dropped=args.drop_outliers)
            frame.assign(path=frame["path"].map(plain)).to_csv(staging / OUTLIERS_FILE, index=False)
        if result.flow is not None:
            report = _score_report(data, result, backbone, config, device)
            summary.update(threshold_summary(result.calibration, report.scores, data.report.labels))
            if shifted is not None:
                summary["shifted_test"] = shifted_summary(shifted, result.flow, backbone, config, result.report,
                                                          device)
            save_model(staging / "model.pt", config, result.flow, result.calibration)
            _write_overlays(staging, data, result, report, config.data.bit_depth)
            if args.export == "onnx":
                exported = _export(staging, config, result, data, backbone)
        (staging / "metrics.json").write_text(json.dumps(summary, indent=2) + os.linesep)
        kept = result.flow is None and (out / "model.pt").is_file()
        written_to = out / FAILED_RUN if kept else out
        if kept:  # the earlier model stays in place: a failed rerun must not cost a good model
            _publish_beside(staging, written_to)
        else:
            _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _print_result(console, result, summary, exported, written_to)
    if kept:
        console.print(f"[yellow]kept[/] {shown(out / 'model.pt')} of the earlier run: this run ended without a "
                      f"model ({result.status})")
    if isinstance(exported, str):
        return 1
    return 0 if result.status == "finished" else 1


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("selection objective {task.fields[objective]:.3f}"), TimeElapsedColumn(),
        console=console, transient=False,
    )


def _print_result(console: Console, result: FitResult, summary: dict[str, Any],
                  exported: ExportCheck | str | None, out: Path) -> None:
    if result.status != "finished":
        console.print(f"[red]{result.status}[/]: {result.reason}")
    for split, name in (("selection", "selection"), ("report", "report"), ("validation", "synthetic")):
        metrics = getattr(result, split)
        if metrics is not None:
            console.print(f"{name:>9}: image AUROC {metric(metrics.image_auroc, 3)}  "
                          f"pixel AUROC {metric(metrics.pixel_auroc, 3)}  AUPRO {metric(metrics.aupro, 3)}  "
                          f"AUPRO@0.05 {metric(metrics.aupro_05, 3)}")
    if "shifted_test" in summary:
        print_shifted(console, summary["shifted_test"])
    if result.calibration is not None:
        print_thresholds(console, result.calibration, summary)
    if isinstance(exported, ExportCheck):
        console.print(f"model.onnx: ONNX Runtime matches torch on {exported.images} report images (scores within "
                      f"{exported.score_relative_difference:.1g} relative, maps within "
                      f"{exported.map_absolute_difference:.1g})")
    elif isinstance(exported, str):
        console.print(f"[red]export refused[/]: {exported}")
    written = "metrics.json, config.yaml" + (", model.pt and overlays" if result.flow is not None else "")
    if isinstance(exported, ExportCheck):
        written += ", model.onnx"
    console.print(f"wrote {shown(out)}/{written} ({result.seconds:.0f} s)")
