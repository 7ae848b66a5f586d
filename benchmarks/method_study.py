"""One change at a time against the default config: report-split quality and training time per variant.

    python benchmarks/method_study.py [--dataset demo-hard] [--seeds 0] [--variants default hinge ...]
        [--output study.csv [--resume]]

Every variant is the default config with the overrides listed in ``VARIANTS``,
trained with ``fit`` on the same prepared data of each category and seed and
scored on the report split (the images ``quality.py`` scores every method on).
The table gives each metric's mean over categories (mean ± std over seeds when
there are several), its difference to ``default``, and train seconds per
category (data preparation and clean features excluded; a synthetic bank,
when the variant has one, included).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from ssflow.model.backbone import build_backbone
from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.training.run_features import compute_run_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import RunInputs
from ssflow.training.train import fit

# name -> (overrides of the default config, what the variant asks)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "default": ({}, "the default config"),
    "constrained": ({"loss.kind": "constrained", "loss.weight": 0.5},
                    "the paper's image-level constrained loss (w 0.5, margin 0)"),
    "hinge": ({"loss.kind": "hinge"}, "image-level hinge instead of the pixel-level one"),
    "margin-0.5": ({"loss.margin": 0.5}, "pixel hinge stops 0.5 nat/dim above normal instead of at it"),
    "weight-0.5": ({"loss.weight": 0.5}, "synthetic share of the loss 0.5 instead of 0.2"),
    "fresh-synthesis": ({"synthesis.bank_rounds": 0}, "fresh synthetic samples every step, no bank"),
    "levels-123": ({"backbone.levels": [1, 2, 3]}, "add the stride-4 level"),
    "level-3": ({"backbone.levels": [3]}, "stride-16 level only"),
    "hidden-32": ({"flow.hidden_channels": 32}, "coupling subnets half as wide (a quarter of the 3x3 conv arithmetic)"),
    "blocks-2": ({"flow.coupling_blocks": 2}, "two coupling blocks per level instead of four"),
    "attention-CA": ({"flow.block_pattern": "CA"}, "conv + self-attention subnets (the paper's mix)"),
    "epochs-5": ({"train.epochs": 5}, "half the training"),
    "epochs-20": ({"train.epochs": 20}, "twice the training"),
    "constant-lr": ({"train.schedule": "constant"}, "no cosine decay"),
    "sigma-0": ({"map.smoothing_sigma": 0.0}, "no map smoothing"),
    "image-max": ({"map.image_score": "max"}, "image score = map maximum (the paper)"),
    # Where a sweep at the default budget (10 epochs) could gain: convergence, capacity, loss, maps.
    "lr-4e-3": ({"train.lr": 4e-3}, "twice the learning rate"),
    "lr-1e-3": ({"train.lr": 1e-3}, "half the learning rate"),
    "batch-2": ({"train.batch_size": 2}, "batches of 2 + 2: twice the steps per epoch"),
    "hidden-96": ({"flow.hidden_channels": 96}, "coupling subnets 1.5x as wide"),
    "blocks-6": ({"flow.coupling_blocks": 6}, "six coupling blocks per level instead of four"),
    "blocks-8": ({"flow.coupling_blocks": 8}, "eight coupling blocks per level"),
    "pattern-CC": ({"flow.block_pattern": "CC"}, "two residual conv blocks per subnet"),
    "weight-0.1": ({"loss.weight": 0.1}, "synthetic share of the loss 0.1 instead of 0.2"),
    "weight-0.3": ({"loss.weight": 0.3}, "synthetic share of the loss 0.3 instead of 0.2"),
    "margin-0.2": ({"loss.margin": 0.2}, "pixel hinge stops 0.2 nat/dim above normal"),
    "clamp-3": ({"flow.clamp": 3.0}, "affine clamping 3 instead of 2"),
    "sigma-8": ({"map.smoothing_sigma": 8.0}, "map smoothing sigma 8 px instead of 4"),
    "topk-0.05": ({"map.topk": 0.05}, "image score = mean of the top 5 % of the map"),
    "bank-4": ({"synthesis.bank_rounds": 4}, "a 4-round synthetic bank"),
    "max-size-0.2": ({"synthesis.max_size": 0.2}, "synthetic patches at most 0.2 of the side"),
    "blend-mixed": ({"synthesis.blend": "mixed"}, "mixed-gradient cloning of the synthetic patches"),
}
METRICS = ("image_auroc", "pixel_auroc", "aupro")


class Run(NamedTuple):
    variant: str
    category: str
    seed: int
    status: str
    image_auroc: float
    pixel_auroc: float
    aupro: float
    train_seconds: float


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo-hard")
    parser.add_argument("--categories", nargs="+", default=None, help="default: every category")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--output", type=Path, default=None, help="CSV of every run, rewritten after each run")
    parser.add_argument("--resume", action="store_true", help="skip the runs already in --output")
    return parser


def run_variant(variant: str, category: str, seed: int, dataset: str, cache: dict[Any, Any]) -> Run:
    """Train one variant on one category and seed; data, backbone and clean features are reused via ``cache``."""
    config = config_from_flat({"data.dataset": dataset, "data.category": category, "data.root": "", "seed": seed,
                               "data.split_seed": seed,
                               **VARIANTS[variant][0]})
    data_key = (category, seed)
    if data_key not in cache:
        cache.clear()  # one category at a time in memory
        cache[data_key] = prepare_data(config)
    data = cache[data_key]
    levels = tuple(config.backbone.levels)
    if levels not in cache:
        backbone = build_backbone(config.backbone.name, levels, normalize=config.data.normalize)
        cache[levels] = (backbone, compute_run_features(backbone, data, torch.device("cpu")))
    backbone, features = cache[levels]
    started = time.perf_counter()
    result = fit(config, data, "cpu", inputs=RunInputs(backbone, features, None))  # fit builds a bank if asked
    seconds = time.perf_counter() - started
    report = result.report
    metrics = ((report.image_auroc, report.pixel_auroc, report.aupro) if report is not None
               else (float("nan"),) * 3)
    return Run(variant, category, seed, result.status, *metrics, seconds)


def study_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("variant", "image AUROC", "pixel AUROC", "AUPRO", "train s", "runs", "change"):
        table.add_column(column, justify="left" if column in ("variant", "change") else "right")
    per_seed = frame.groupby(["variant", "seed"], sort=False)[list(METRICS)].mean()
    baseline = per_seed.loc["default"].mean() if "default" in per_seed.index.get_level_values(0) else None
    for variant, runs in frame.groupby("variant", sort=False):
        seeds = per_seed.loc[variant]
        cells = []
        for metric in METRICS:
            mean, spread = seeds[metric].mean(), seeds[metric].std(ddof=0)
            cell = f"{mean:.3f}" + (f" ± {spread:.3f}" if len(seeds) > 1 else "")
            if baseline is not None and variant != "default":
                cell += f" ({mean - baseline[metric]:+.3f})"
            cells.append(cell)
        table.add_row(variant, *cells, f"{runs['train_seconds'].mean():.0f}",
                      f"{int((runs['status'] == 'finished').sum())}/{len(runs)}", VARIANTS[variant][1])
    return table


def main() -> None:
    args = _arguments().parse_args()
    root = prepare_root(args.dataset, default_root(args.dataset))
    categories = args.categories or list_categories(args.dataset, root)
    done: list[Run] = []
    if args.resume and args.output is not None and args.output.is_file():
        done = [Run(**row) for row in pd.read_csv(args.output).to_dict("records")]
    finished = {(run.variant, run.category, run.seed) for run in done}
    console = Console()
    cache: dict[Any, Any] = {}
    for seed in args.seeds:
        for category in categories:
            for variant in args.variants:
                if (variant, category, seed) in finished:
                    continue
                run = run_variant(variant, category, seed, args.dataset, cache)
                done.append(run)
                console.log(f"{args.dataset}/{category} seed {seed} {variant}: image {run.image_auroc:.3f} "
                            f"pixel {run.pixel_auroc:.3f} aupro {run.aupro:.3f} in {run.train_seconds:.0f} s")
                if args.output is not None:
                    pd.DataFrame(done).to_csv(args.output, index=False)
    frame = pd.DataFrame(done)
    frame = frame[frame["variant"].isin(args.variants) & frame["category"].isin(categories)]
    console.print(study_table(frame, f"{args.dataset}, categories {', '.join(categories)}, seeds "
                                     f"{', '.join(map(str, args.seeds))}, report split "
                                     f"({platform.machine()}, {torch.get_num_threads()} threads)"))


if __name__ == "__main__":
    main()
