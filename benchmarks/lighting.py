"""What a lighting change costs: demo-hard's report split and the same images under changed lighting.

    python benchmarks/lighting.py --seeds 0 1 2 --output benchmarks/results/lighting.csv

For every category and seed, each ssflow variant (``--variants``: today's
default, photometric strengths, input normalisations) and anomalib's PaDiM
and PatchCore (same backbone, levels and input normalisation; PatchCore with
a 1 % coreset as in ``quality.py``) train once on demo-hard's normal training
images and are scored on the report split and on the same images from
``demo-hard-lighting`` (every test image relit: exposure x0.7-0.85 or
x1.15-1.3, a 10-25 % light ramp, a warmer or colder lamp; masks unchanged).
The table gives image AUROC, AUPRO and aupro_05 on both sets (mean ± std of
the category mean over seeds) and the loss from unshifted to shifted.
``--resume`` keeps the rows already in ``--output``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from baselines import build_baseline, fit_baseline, score_baseline  # benchmarks/ is on sys.path
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData, SplitData, prepare_data
from ssflow.datasets import default_root, prepare_root
from ssflow.datasets.demo import DEMO_HARD
from ssflow.evaluation.evaluate import SplitMetrics, at_mask_size, split_metrics
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import prepare_run
from ssflow.evaluation.shifted_test import score_shifted, shifted_test
from ssflow.training.train import fit

# name -> config keys over the default config; "default" is the default before lighting robustness (no augmentation,
# no normalisation), so rows of earlier runs keep their meaning; a normalisation alone is without augmentation.
VARIANTS: dict[str, dict[str, object]] = {
    "default": {"train.photometric": 0.0, "data.normalize": "none"},  # without lighting robustness
    "photometric 0.5": {"train.photometric": 0.5, "data.normalize": "none"},
    "photometric 0.75": {"train.photometric": 0.75, "data.normalize": "none"},
    "photometric 1": {"train.photometric": 1.0, "data.normalize": "none"},
    "per_image": {"train.photometric": 0.0, "data.normalize": "per_image"},
    "per_channel": {"train.photometric": 0.0, "data.normalize": "per_channel"},
    "photometric 1 + per_image": {"train.photometric": 1.0, "data.normalize": "per_image"},
    "shading": {"train.photometric": 0.0, "data.normalize": "shading"},
    "photometric 0.5 + shading": {"train.photometric": 0.5, "data.normalize": "shading"},
    "photometric 0.75 + shading": {"train.photometric": 0.75, "data.normalize": "shading"},
    "lighting": {"train.photometric": 0.0, "data.normalize": "lighting"},
    "photometric 0.5 + lighting": {"train.photometric": 0.5, "data.normalize": "lighting"},
    "photometric 0.75 + lighting": {"train.photometric": 0.75, "data.normalize": "lighting"},
    "photometric 1 + lighting": {"train.photometric": 1.0, "data.normalize": "lighting"},
}
BASELINES = ("padim", "patchcore")
CORESET_RATIO = 0.01  # as quality.py: anomalib's 10 % default costs about 10x the fit time on these cores
METRICS = ("image_auroc", "aupro", "aupro_05")
_NAN = float("nan")


class Row(NamedTuple):
    category: str
    seed: int
    method: str
    status: str
    image_auroc: float
    aupro: float
    aupro_05: float
    shifted_image_auroc: float
    shifted_aupro: float
    shifted_aupro_05: float
    train_seconds: float


def _values(metrics: SplitMetrics | None) -> tuple[float, float, float]:
    if metrics is None:
        return _NAN, _NAN, _NAN
    return tuple(_NAN if getattr(metrics, name) is None else float(getattr(metrics, name)) for name in METRICS)


def run_variant(config: SSFlowConfig, data: PreparedData, shifted_root: Path, device: torch.device,
                name: str) -> Row:
    started = time.perf_counter()
    inputs = prepare_run(config, data, device)
    result = fit(config, data, device, inputs=inputs)
    seconds = time.perf_counter() - started
    if result.flow is None:
        return Row(config.data.category, config.seed, name, result.status, *[_NAN] * 6, seconds)
    shifted = shifted_test(config, shifted_root, data.report)
    if not shifted.paired:
        raise RuntimeError(f"{shifted_root} does not hold the report split's images of {config.data.category}")
    relit = score_shifted(result.flow, inputs.backbone, shifted, config, device)
    return Row(config.data.category, config.seed, name, result.status, *_values(result.report), *_values(relit),
               seconds)


def run_baseline_pair(method: str, data: PreparedData, shifted: SplitData, seed: int, device: torch.device) -> Row:
    """Fit ``method`` once; score the report split and its relit copy."""
    model = build_baseline(method, seed, device)
    seconds = fit_baseline(model, data.train, seed, device, CORESET_RATIO)

    def scored(split: SplitData) -> SplitMetrics | None:
        result = score_baseline(model, split.images, device)
        return split_metrics(result.scores, at_mask_size(result.maps, split), split)

    return Row(data.category, seed, method, "finished", *_values(scored(data.report)), *_values(scored(shifted)),
               seconds)


def run_category(category: str, seed: int, methods: Sequence[str], shifted_root: Path, device: torch.device,
                 done: set[tuple[str, int, str]]) -> Iterator[Row]:
    """Every method not in ``done`` on one category and seed, on the same report split; one row at a time."""
    base = config_from_flat({"data.dataset": "demo-hard", "data.category": category, "seed": seed,
                             "data.split_seed": seed})
    data = prepare_data(base)
    for method in methods:
        if (category, seed, method) in done:
            continue
        if method in BASELINES:
            shifted = shifted_test(base, shifted_root, data.report)
            yield run_baseline_pair(method, data, shifted.split, seed, device)
        else:
            config = config_from_flat(VARIANTS[method], base)
            yield run_variant(config, data, shifted_root, device, method)


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def summary_table(frame: pd.DataFrame, title: str) -> Table:
    """Per method: each metric unshifted and shifted (mean ± std over seeds of the category mean) and the loss."""
    table = Table(title=title, title_justify="left")
    table.add_column("method")
    for name in METRICS:
        for column in (name, f"{name} shifted", "loss"):
            table.add_column(column.replace("image_auroc", "image AUROC").replace("aupro_05", "AUPRO@0.05")
                             .replace("aupro", "AUPRO"), justify="right")
    table.add_column("train s / category", justify="right")
    per_seed = frame.groupby(["method", "seed"]).mean(numeric_only=True).reset_index()
    order = [m for m in (*VARIANTS, *BASELINES) if m in set(per_seed["method"])]
    for method in order:
        part = per_seed[per_seed["method"] == method]
        cells = []
        for name in METRICS:
            loss = part[name] - part[f"shifted_{name}"]
            cells += [_mean_std(part[name]), _mean_std(part[f"shifted_{name}"]), _mean_std(loss)]
        table.add_row(method, *cells, f"{part['train_seconds'].mean():.1f}")
    return table


def category_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("category", "method", "image AUROC", "shifted", "AUPRO", "shifted", "AUPRO@0.05", "shifted"):
        table.add_column(column, justify="left" if column in ("category", "method") else "right")
    for (category, method), part in frame.groupby(["category", "method"], sort=False):
        table.add_row(category, method, *[_mean_std(part[column]) for column in
                                          ("image_auroc", "shifted_image_auroc", "aupro", "shifted_aupro",
                                           "aupro_05", "shifted_aupro_05")])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--categories", nargs="+", default=list(DEMO_HARD.categories))
    parser.add_argument("--methods", nargs="+", default=[*VARIANTS, *BASELINES],
                        choices=[*VARIANTS, *BASELINES])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="keep the rows already in --output")
    args = parser.parse_args()
    console = Console(width=200)
    prepare_root("demo-hard", default_root("demo-hard"))
    shifted_root = prepare_root("demo-hard-lighting", default_root("demo-hard-lighting"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = [Row(*row) for row in pd.read_csv(args.output).itertuples(index=False)] \
        if args.resume and args.output is not None and args.output.is_file() else []
    done = {(row.category, row.seed, row.method) for row in rows}
    for seed in args.seeds:
        for category in args.categories:
            for row in run_category(category, seed, args.methods, shifted_root, device, done):
                rows.append(row)
                console.log(f"{category} seed {seed} {row.method}: image AUROC {row.image_auroc:.3f} -> "
                            f"{row.shifted_image_auroc:.3f}, AUPRO {row.aupro:.3f} -> {row.shifted_aupro:.3f} "
                            f"({row.train_seconds:.0f} s)")
                if args.output is not None:
                    pd.DataFrame(rows).to_csv(args.output, index=False)
    frame = pd.DataFrame(rows)
    frame = frame[frame["method"].isin(args.methods)]
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, {device}"
    console.print(summary_table(frame, f"demo-hard, report split vs the same images relit (mean ± std over seeds "
                                       f"{sorted(set(frame['seed']))}; {machine})"))
    console.print(category_table(frame, "per category (mean ± std over seeds)"))


if __name__ == "__main__":
    main()
