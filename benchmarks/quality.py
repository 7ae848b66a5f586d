"""Side-by-side quality: ssflow against anomalib PatchCore and PaDiM on the same features and test images.

    python benchmarks/quality.py [--datasets demo-hard demo] [--seeds 0 1 2]
        [--methods ssflow patchcore padim] [--categories carpet marble] [--backbones lite0 lite1 lite2]
        [--ssflow-config best.yaml] [--device cpu] [--output results.csv]
    python benchmarks/quality.py --dataset folder --data-root /data/my-parts [...]

``--dataset`` is ``--datasets`` (any name of the dataset registry);
``--data-root`` reads one dataset from that folder (or manifest file) instead
of its default location.

Every method trains on the normal training images of a category only and is
scored on the same images: the *report* split of the category's test set for
that seed (``split_test(test, selection_fraction=0.5, seed)``, stratified by
defect type), the split ssflow reports on and never selects on. The seed also
sets ssflow's initialisation and synthesis, PatchCore's coreset sampling and
PaDiM's channel subset. The baselines run on ssflow's backbone, weights,
levels and normalisation (see ``baselines.py``); all maps are scored with
:mod:`ssflow.evaluation.metrics`.

``--backbones`` runs every method on each embedded backbone in turn (the same
levels, strides 8 and 16, and the same input size for all methods): ssflow's
default config with ``backbone.name`` set, PatchCore and PaDiM on that network
and its embedded weights.

``ssflow`` is the default config; ``ssflow-best`` (run when ``--ssflow-config``
is given) is a config file or an export file from ``run_search.py export``
(one config per category). Its data settings and image size must be the
defaults, so that it sees the same images.

Train seconds: for the baselines, the training images' features plus the
fit; for ssflow, the wall time of ``fit()``, which includes its features and
its per-epoch scoring of the selection and report splits. Inference images/s:
report images from pixels to anomaly map and image score, backbone included.

Needs the ``bench`` extra (anomalib).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd
import torch
from rich.console import Console

from quality_tables import category_table, scored_images_note, summary_table  # benchmarks/ is on sys.path

from ssflow.model.backbone import FeatureExtractor, build_backbone
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import load_config_file
from ssflow.datasets.prepared import PreparedData, plan_splits, prepare_data
from ssflow.datasets import DATASETS, default_root, list_categories, prepare_root, read_image
from ssflow.errors import UserInputError
from ssflow.evaluation.evaluate import SplitMetrics, evaluate
from ssflow.settings.exported import is_export_file, load_export_config
from ssflow.training.run_features import compute_run_features
from ssflow.model.features import extract_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import RunInputs
from ssflow.devices import resolve_device
from ssflow.training.train import fit

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # anomalib 2.7 imports deprecated timm and dinov2 paths
    from baselines import BASELINES, CORESET_RATIO, BaselineRun, check_same_features, run_baseline

METHODS = ("ssflow", "ssflow-best", *BASELINES)
BACKBONES = {f"lite{size}": f"tf_efficientnet_lite{size}" for size in (0, 1, 2)}  # --backbones: embedded ones
_NAN = float("nan")


class Row(NamedTuple):
    """One method on one category and seed."""

    dataset: str
    category: str
    seed: int
    method: str
    status: str  # finished, or why ssflow has no numbers (diverged)
    image_auroc: float
    pixel_auroc: float
    aupro: float
    train_seconds: float
    images_per_second: float
    report_normal: int  # report-split images scored: normal ...
    report_defective: int  # ... and defective
    backbone: str = "lite0"  # a key of BACKBONES


def ssflow_config(dataset: str, category: str, seed: int, best: Path | None, root: str = "",
                  backbone: str = "lite0") -> SSFlowConfig:
    """The default config, or the one in ``best`` for this category, on ``dataset``/``category``/``seed``.

    ``root``: the dataset's folder (or manifest file); empty: its default location.
    """
    base = None
    if best is not None:
        base = load_export_config(best, category) if is_export_file(best) else load_config_file(best)
        default = SSFlowConfig()
        ours = (base.data.shots, base.data.selection_fraction, base.backbone.image_size)
        expected = (default.data.shots, default.data.selection_fraction, default.backbone.image_size)
        if ours != expected:
            raise UserInputError(
                f"{best} [{category}]: (data.shots, data.selection_fraction, backbone.image_size) = {ours}, "
                f"expected the defaults {expected}; every method must be scored on the same images")
    flat = {"data.dataset": dataset, "data.category": category, "data.root": root, "seed": seed,
            "data.split_seed": seed}  # each seed its own split, as in the published protocol
    if best is None:
        flat["backbone.name"] = BACKBONES[backbone]
    return config_from_flat(flat, base)


def run_ssflow(config: SSFlowConfig, data: PreparedData, backbone: FeatureExtractor,
               device: torch.device) -> tuple[BaselineRun, str]:
    """Train with ``fit`` and score the report split from pixels, timed: (run, status)."""
    started = time.perf_counter()
    result = fit(config, data, device, inputs=RunInputs(backbone, compute_run_features(backbone, data, device), None))
    train_seconds = time.perf_counter() - started
    if result.flow is None:  # diverged: no model to score
        return BaselineRun(SplitMetrics(_NAN, _NAN, _NAN), train_seconds, _NAN), f"{result.status}: {result.reason}"
    started = time.perf_counter()
    features = extract_features(backbone, data.report.images, device)
    evaluation = evaluate(result.flow, features, data.report, config.map, "report")
    seconds = time.perf_counter() - started
    run = BaselineRun(evaluation.metrics, train_seconds, len(data.report) / seconds)
    return run, result.status


def run_category(dataset: str, category: str, seed: int, methods: Sequence[str], best: Path | None,
                 backbone: FeatureExtractor, device: torch.device, coreset_ratio: float,
                 root: str = "", backbone_key: str = "lite0") -> list[Row]:
    """Every method on one category and seed, all on the same prepared data and backbone."""
    default = ssflow_config(dataset, category, seed, None, root, backbone_key)
    data = prepare_data(default)
    normal = int((data.report.labels == 0).sum())
    rows = []
    for method in methods:
        status = "finished"
        if method in BASELINES:
            run = run_baseline(method, data.train, data.report, seed, device, coreset_ratio, backbone.name)
        else:
            config = default if method == "ssflow" else ssflow_config(dataset, category, seed, best, root)
            run, status = run_ssflow(config, data, backbone, device)
        metrics = (_NAN if value is None else value for value in run.metrics)  # None: no masks
        rows.append(Row(dataset, category, seed, method, status, *metrics, run.train_seconds,
                        run.images_per_second, normal, len(data.report) - normal, backbone_key))
    return rows


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", "--dataset", nargs="+", choices=DATASETS, default=["demo-hard", "demo"])
    parser.add_argument("--data-root", default=None,
                        help="folder (or manifest file) of the one dataset named by --dataset; default: its "
                             "default location")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=None,
                        help="default: ssflow patchcore padim, plus ssflow-best with --ssflow-config")
    parser.add_argument("--categories", nargs="+", default=None, help="default: every category of each dataset")
    parser.add_argument("--backbones", nargs="+", choices=list(BACKBONES), default=["lite0"],
                        help="embedded backbones to run every method on, one after another (default lite0)")
    parser.add_argument("--ssflow-config", type=Path, default=None,
                        help="config YAML or export file of the best config found by a sweep")
    parser.add_argument("--coreset-ratio", type=float, default=CORESET_RATIO,
                        help="share of PatchCore's patch features kept (anomalib's default 0.1; 0.01 is ~10x faster)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 avoids oversubscription on a shared CPU")
    parser.add_argument("--output", type=Path, default=None,
                        help="CSV of every run, rewritten after each category")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in --output and skip them (same options assumed)")
    return parser


def _plan(args: argparse.Namespace, methods: Sequence[str], progress: Console) -> tuple[dict[str, list[str]], Path]:
    """Categories per dataset (data generated if needed) and one training image; user mistakes raise here."""
    if not 0.0 < args.coreset_ratio <= 1.0:
        raise UserInputError(f"--coreset-ratio {args.coreset_ratio}: expected a share in (0, 1], e.g. 0.1")
    if "ssflow-best" in methods and args.ssflow_config is None:
        raise UserInputError("--methods ssflow-best needs --ssflow-config FILE.yaml (a config or export file)")
    if args.resume and args.output is None:
        raise UserInputError("--resume needs --output FILE.csv, the file of earlier runs")
    if args.data_root and len(args.datasets) != 1:
        raise UserInputError(f"--data-root reads one dataset; got --datasets {' '.join(args.datasets)}")
    plan: dict[str, list[str]] = {}
    for dataset in args.datasets:
        started = time.perf_counter()
        root = prepare_root(dataset, Path(args.data_root) if args.data_root else default_root(dataset))
        plan[dataset] = args.categories or list_categories(dataset, root)
        progress.log(f"{dataset}: data ready at {root} in {time.perf_counter() - started:.1f} s")
        for category in plan[dataset]:  # fail before hours of runs, not after: layout, splits, configs
            for seed in args.seeds:
                records = plan_splits(ssflow_config(dataset, category, seed, None, args.data_root or ""))
            first_image = records.train[0].image_path
            if "ssflow-best" in methods:
                ssflow_config(dataset, category, args.seeds[0], args.ssflow_config, args.data_root or "")
    return plan, first_image


def _earlier_runs(path: Path | None, resume: bool) -> list[Row]:
    if not resume or path is None or not path.is_file():
        return []
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "backbone" not in frame:  # files written before --backbones
        frame["backbone"] = "lite0"
    return [Row(*values) for values in frame[list(Row._fields)].itertuples(index=False)]


def _key(row: Row) -> tuple[str, str, int, str, str]:
    return row.dataset, row.category, int(row.seed), row.method, row.backbone


def _save(rows: Sequence[Row], path: Path | None) -> None:
    if path is None:
        return
    temporary = path.with_name(f".{path.name}.tmp")
    pd.DataFrame(rows, columns=Row._fields).to_csv(temporary, index=False)
    temporary.replace(path)  # a kill mid-write leaves the previous file


def _print_tables(console: Console, frame: pd.DataFrame, machine: str) -> None:
    if frame["backbone"].nunique() > 1:  # one row per method and backbone
        frame = frame.assign(method=frame["method"] + " [" + frame["backbone"] + "]")
    for dataset, runs in frame.groupby("dataset", sort=False):
        categories = runs["category"].unique()
        seeds = ", ".join(str(seed) for seed in sorted(runs["seed"].unique()))
        console.print(summary_table(runs, f"{dataset}: mean over {len(categories)} categories, mean ± std over "
                                          f"seeds {seeds} ({machine})"))
        console.print(f"[dim]{scored_images_note(runs)}[/dim]")
        console.print(category_table(runs, f"{dataset} per category: mean ± std over seeds {seeds}"))


def main() -> None:
    parser = _arguments()
    args = parser.parse_args()
    console, progress = Console(), Console(stderr=True)
    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    methods = args.methods or ["ssflow", *(["ssflow-best"] if args.ssflow_config else []), *BASELINES]
    try:
        device = resolve_device(args.device)
        plan, first_image = _plan(args, methods, progress)
    except UserInputError as error:
        parser.exit(2, f"error: {error}\n")
    rows = _earlier_runs(args.output, args.resume)
    done = {_key(row) for row in rows}
    for key in args.backbones:
        backbone = build_backbone(BACKBONES[key], device=device)
        gap = check_same_features(backbone, read_image(first_image, SSFlowConfig().backbone.image_size), device)
        progress.log(f"anomalib's {backbone.name} reproduces ssflow's features (largest difference {gap:.1e})")
        for dataset in args.datasets:
            for seed in args.seeds:
                for category in plan[dataset]:
                    todo = [method for method in methods if (dataset, category, seed, method, key) not in done]
                    if not todo:
                        continue
                    for row in run_category(dataset, category, seed, todo, args.ssflow_config, backbone, device,
                                            args.coreset_ratio, args.data_root or "", key):
                        rows.append(row)
                        progress.log(f"{dataset} {category} seed {seed} {key} {row.method}: image "
                                     f"{row.image_auroc:.3f} pixel {row.pixel_auroc:.3f} aupro {row.aupro:.3f} "
                                     f"train {row.train_seconds:.0f} s ({row.status})")
                    _save(rows, args.output)
    planned = {(d, c, s, m, b) for d in args.datasets for c in plan[d] for s in args.seeds for m in methods
               for b in args.backbones}
    frame = pd.DataFrame([row for row in rows if _key(row) in planned], columns=Row._fields)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {device}"
    if "patchcore" in methods:
        machine += f"; PatchCore coreset {args.coreset_ratio:g}"
    _print_tables(console, frame, machine)


if __name__ == "__main__":
    main()
