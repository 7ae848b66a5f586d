"""demo-hard read in its own layout and re-arranged as a ``--dataset folder`` tree: same images, same metrics.

    python benchmarks/folder_equivalence.py [--dataset demo-hard] [--categories carpet] [--seeds 0]
        [--out data/demo-hard-folder] [--epochs N]

Every file of the generated dataset (BTAD layout) is hard-linked (copied
across file systems) into the folder layout with train/ and test/::

    <out>/<category>/train/good/<name>   <- <category>/train/ok/<name>
    <out>/<category>/test/good/<name>    <- <category>/test/ok/<name>
    <out>/<category>/test/ko/<name>      <- <category>/test/ko/<name>
    <out>/<category>/masks/ko/<name>     <- <category>/ground_truth/ko/<name>

Per category and seed, both copies are read with the default config at that
seed (``seed`` and ``data.split_seed``, as ``quality.py`` does), the loaded
arrays are compared, and the default config is trained on each; the
report-split metrics are printed side by side with their largest difference.
The same command through ``quality.py``:
``python benchmarks/quality.py --dataset folder --data-root data/demo-hard-folder --methods ssflow``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ssflow.model.backbone import build_backbone
from ssflow.datasets.prepared import PreparedData, SplitData, prepare_data
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.training.run_features import compute_run_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import RunInputs
from ssflow.training.train import fit

# BTAD folder -> folder-dataset folder
MOVES = {"train/ok": "train/good", "test/ok": "test/good", "test/ko": "test/ko", "ground_truth/ko": "masks/ko"}
METRICS = ("image_auroc", "pixel_auroc", "aupro")


def link_file(source: Path, target: Path) -> None:
    """Hard-link (or copy) one file, replacing nothing that is already there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def as_folder_dataset(root: Path, out: Path, categories: list[str]) -> Path:
    """``root`` (BTAD layout) re-arranged under ``out`` in the folder layout; returns ``out``."""
    for category in categories:
        for old, new in MOVES.items():
            for path in sorted((root / category / old).iterdir()):
                link_file(path, out / category / new / path.name)
    return out


def _by_name(split: SplitData) -> np.ndarray:
    return np.argsort([Path(path).name for path in split.paths], kind="stable")


def same_arrays(native: PreparedData, folder: PreparedData) -> bool:
    """Whether both hold the same pixels, masks and labels (test rows matched by file name)."""
    if not np.array_equal(native.train, folder.train):
        return False
    for name in ("selection", "report"):
        a, b = getattr(native, name), getattr(folder, name)
        rows_a, rows_b = _by_name(a), _by_name(b)
        if not (np.array_equal(a.images[rows_a], b.images[rows_b]) and np.array_equal(a.masks[rows_a], b.masks[rows_b])
                and np.array_equal(a.labels[rows_a], b.labels[rows_b])):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo-hard", choices=["demo", "demo-hard"])
    parser.add_argument("--categories", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, default=None, help="default: data/<dataset>-folder")
    parser.add_argument("--epochs", type=int, default=None, help="default: the default config's")
    args = parser.parse_args()
    console = Console()
    root = prepare_root(args.dataset, default_root(args.dataset))
    categories = args.categories or list_categories(args.dataset, root)
    out = as_folder_dataset(root, args.out or Path("data") / f"{args.dataset}-folder", categories)
    backbone = build_backbone()
    table = Table(title=f"{args.dataset} read natively and as --dataset folder ({out}): report split, "
                        f"{torch.get_num_threads()} threads", title_justify="left")
    for column in ("category", "seed", "same arrays", *(f"{m} native / folder" for m in METRICS), "largest diff", "s"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category in categories:
        for seed in args.seeds:
            flat = {"data.category": category, "seed": seed, "data.split_seed": seed,
                    **({"train.epochs": args.epochs} if args.epochs else {})}
            started = time.perf_counter()
            results = []
            for dataset, data_root in ((args.dataset, str(root)), ("folder", str(out))):
                config = config_from_flat({**flat, "data.dataset": dataset, "data.root": data_root})
                data = prepare_data(config)
                inputs = RunInputs(backbone, compute_run_features(backbone, data, torch.device("cpu")), None)
                results.append((data, fit(config, data, "cpu", inputs=inputs).report))
            (native, native_metrics), (folder, folder_metrics) = results
            gap = max(abs(getattr(native_metrics, m) - getattr(folder_metrics, m)) for m in METRICS)
            table.add_row(category, str(seed), "yes" if same_arrays(native, folder) else "NO",
                          *(f"{getattr(native_metrics, m):.4f} / {getattr(folder_metrics, m):.4f}" for m in METRICS),
                          f"{gap:.1e}", f"{time.perf_counter() - started:.0f}")
            console.log(f"{category} seed {seed}: largest difference {gap:.1e}")
    console.print(table)


if __name__ == "__main__":
    main()
