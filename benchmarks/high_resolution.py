"""High-resolution images: whole-image (squash, keep aspect) vs tiled ssflow vs anomalib PatchCore.

    python benchmarks/high_resolution.py [--categories fabric granite] [--seeds 0]
        [--epochs 10] [--output benchmarks/results/high_resolution.csv]
    python benchmarks/high_resolution.py --memory-check [--images 40 --width 2048 --height 1536]

On ``demo-hires`` (1024 x 640 images, defects 3-20 px), every method trains
on the normal training images of a category and is scored on its report
split with :mod:`ssflow.evaluation.metrics`, maps and masks at the metric resolution
(:mod:`ssflow.datasets.model_inputs`: here the images' own size, since the
smallest defects are 3 px across):

- ``squash``: the default config, each image resized to 256 x 256;
- ``keep-aspect``: reflect-padded to a square, then 256 x 256;
- ``tiled-256`` / ``tiled-384``: 256 / 384 px tiles at full resolution,
  overlap 0.25, each resized to 256 x 256;
- ``patchcore``: anomalib's PatchCore (coreset 10 %) at its default 256 x 256
  (squashed), on the same backbone, weights and levels as ssflow.

Each row runs in a process of its own, so its peak RSS (``ru_maxrss``) is its
own: data, features, training and scoring. Train seconds: reading the images
into model inputs, features, synthetic bank and ``fit`` (per-epoch scoring of
both test splits at the metric resolution included) for ssflow; features and
fit for PatchCore. Predict ms per image: from the file on disk to decision and
full-size map (ssflow: :func:`ssflow_runtime.scoring.score_images`, tiles stitched;
PatchCore: reading, resizing and scoring).

``--memory-check`` trains one epoch on ``--images`` generated images of
``--width`` x ``--height`` at ``tile_size`` 256 and prints the peak RSS.

Needs the ``bench`` extra (anomalib) for the PatchCore row.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import config_to_nested
from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, prepare_root, read_image
from ssflow.settings.flat_config import config_from_flat
from ssflow.deployment.model_io import LoadedModel
from ssflow_runtime.scoring import OpenedModel, model_settings, score_images
from ssflow.training.run_inputs import prepare_run
from ssflow.deployment.torch_scorer import torch_scorer
from ssflow.training.train import fit

VARIANTS: dict[str, dict[str, Any]] = {
    "squash": {},
    "keep-aspect": {"data.keep_aspect": True},
    "tiled-256": {"data.tile_size": 256},
    "tiled-384": {"data.tile_size": 384},
    "patchcore": {},
}
COLUMNS = ("image_auroc", "pixel_auroc", "aupro", "train_seconds", "predict_ms", "peak_rss_gb")


def _config(variant: str, category: str, seed: int, epochs: int, root: str) -> SSFlowConfig:
    flat = {"data.dataset": "demo-hires", "data.category": category, "data.root": root, "seed": seed,
            "data.split_seed": seed, "train.epochs": epochs, "backbone.image_size": 256, **VARIANTS[variant]}
    return config_from_flat(flat)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB


def _ssflow_row(config: SSFlowConfig, device: torch.device) -> dict[str, Any]:
    started = time.perf_counter()
    data = prepare_data(config)
    inputs = prepare_run(config, data, device)
    result = fit(config, data, device, inputs=inputs)
    train_seconds = time.perf_counter() - started
    if result.flow is None:
        return {"status": f"{result.status}: {result.reason}", "train_seconds": train_seconds}
    model = LoadedModel(config, result.flow, result.calibration)
    settings, rule = model_settings(config_to_nested(config), "benchmark")
    opened = OpenedModel("benchmark", "model.pt", settings, result.calibration,
                         torch_scorer(model, inputs.backbone, device), str(device), rule)
    paths = [Path(path) for path in data.report.paths]
    started = time.perf_counter()
    for _ in score_images(opened, paths, result.calibration.threshold):
        pass
    predict_ms = 1000 * (time.perf_counter() - started) / len(paths)
    metrics = result.report
    return {"status": result.status, "image_auroc": metrics.image_auroc, "pixel_auroc": metrics.pixel_auroc,
            "aupro": metrics.aupro, "train_seconds": train_seconds, "predict_ms": predict_ms,
            "tiles_per_image": len(data.report.images) / len(data.report), "train_inputs": len(data.train)}


def _patchcore_row(config: SSFlowConfig, device: torch.device) -> dict[str, Any]:
    from baselines import run_baseline  # anomalib: only for this row

    data = prepare_data(config)
    run = run_baseline("patchcore", data.train, data.report, config.seed, device)
    started = time.perf_counter()
    for path in data.report.paths:
        read_image(Path(path), config.backbone.image_size)
    reading_ms = 1000 * (time.perf_counter() - started) / len(data.report)
    metrics = run.metrics
    return {"status": "finished", "image_auroc": metrics.image_auroc, "pixel_auroc": metrics.pixel_auroc,
            "aupro": metrics.aupro, "train_seconds": run.train_seconds,
            "predict_ms": reading_ms + 1000 / run.images_per_second, "tiles_per_image": 1,
            "train_inputs": len(data.train)}


def run_one(variant: str, category: str, seed: int, epochs: int, root: str) -> dict[str, Any]:
    """One row, in this process: metrics, seconds and this process's peak RSS."""
    torch.manual_seed(seed)
    device = torch.device("cpu")
    config = _config(variant, category, seed, epochs, root)
    row = _patchcore_row(config, device) if variant == "patchcore" else _ssflow_row(config, device)
    return {"category": category, "seed": seed, "method": variant, **row, "peak_rss_gb": _peak_rss_gb()}


def _in_subprocess(variant: str, category: str, seed: int, epochs: int, root: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        subprocess.run([sys.executable, __file__, "--one", variant, "--categories", category, "--seeds", str(seed),
                        "--epochs", str(epochs), "--root", root, "--row-file", handle.name], check=True)
        return json.loads(Path(handle.name).read_text())


def memory_check(images: int, width: int, height: int) -> dict[str, Any]:
    """Peak RSS of one training epoch at tile_size 256 on ``images`` generated images of width x height."""
    from ssflow.datasets.demo import DEMO_HIRES, generate_demo
    import dataclasses

    settings = dataclasses.replace(DEMO_HIRES, name="memory-check", width=width, height=height, train=images,
                                   test_ok=2, test_ko=2, categories=("fabric",))
    with tempfile.TemporaryDirectory() as folder:
        root = generate_demo(Path(folder) / "data", seed=0, settings=settings)
        config = config_from_flat({"data.dataset": "btad", "data.root": str(root), "data.category": "fabric",
                                   "data.tile_size": 256, "train.epochs": 1})
        started = time.perf_counter()
        data = prepare_data(config)
        result = fit(config, data, torch.device("cpu"))
        return {"images": images, "size": f"{width}x{height}", "train_tiles": len(data.train),
                "status": result.status, "seconds": time.perf_counter() - started, "peak_rss_gb": _peak_rss_gb()}


def _table(rows: pd.DataFrame) -> Table:
    table = Table(title=f"demo-hires 1024x640, report split ({platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} threads)")
    for column in ("category", "method", *COLUMNS):
        table.add_column(column, justify="left" if column in ("category", "method") else "right")
    for _, row in rows.iterrows():
        table.add_row(row["category"], row["method"], *(f"{row.get(c, float('nan')):.3f}" for c in COLUMNS))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--categories", nargs="+", default=["fabric", "granite"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--methods", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--root", default="", help="demo-hires folder (default: data/demo-hires)")
    parser.add_argument("--output", default="benchmarks/results/high_resolution.csv")
    parser.add_argument("--memory-check", action="store_true")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1536)
    parser.add_argument("--one", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--row-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    console = Console(width=160)
    if args.one:
        row = run_one(args.one, args.categories[0], args.seeds[0], args.epochs, args.root)
        Path(args.row_file).write_text(json.dumps(row))
        return
    if args.memory_check:
        console.print(memory_check(args.images, args.width, args.height))
        return
    # Generated once here, so no row's train seconds include making the data set.
    prepare_root("demo-hires", Path(args.root) if args.root else default_root("demo-hires"))
    rows = []
    for seed in args.seeds:
        for category in args.categories:
            for method in args.methods:
                rows.append(_in_subprocess(method, category, seed, args.epochs, args.root))
                console.print(rows[-1])
    frame = pd.DataFrame(rows)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output, index=False)
    console.print(_table(frame))
    means = frame.groupby("method")[list(COLUMNS)].mean(numeric_only=True).reindex(args.methods)
    console.print(_table(means.reset_index().assign(category="mean")))


if __name__ == "__main__":
    main()
