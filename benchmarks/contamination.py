"""Defective images among the good training images: are they found, and does dropping them help?

    python benchmarks/contamination.py [--rates 0 0.05 0.1] [--categories carpet ...] [--seeds 0]
        [--output benchmarks/results/contamination.csv [--resume]]

For each demo-hard category and contamination rate, a copy of the category
has that share of its ``train/ok`` images replaced by defective images (the
demo generator's own defects, painted on fresh surfaces of the category). The
default config is trained on it; the training images it scores far above the
rest (``ssflow.training.train_outliers``, as ``train`` lists them in
``train_outliers.csv``) are compared with the replaced ones (precision,
recall), and the report split's AUPRO is given with and without
``--drop-outliers`` (the model trained again without the listed images).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, prepare_root
from ssflow.datasets.demo import DEMO_HARD, defective_image, image_rng
from ssflow.settings.flat_config import config_from_flat
from ssflow_runtime.overlay import write_png
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import fit
from ssflow.training.train_outliers import OUTLIER_Z, find_outliers, image_scores, without_images


class Row(NamedTuple):
    category: str
    rate: float
    seed: int
    replaced: int
    listed: int
    true_positives: int
    aupro: float  # report split, trained on everything
    aupro_dropped: float  # report split, trained again without the listed images (= aupro when none)


def contaminate(source: Path, target: Path, category: str, rate: float) -> set[str]:
    """Copy ``source/category`` to ``target/category`` with ``rate`` of its training images replaced by
    defective ones (evenly spread over the sorted names); the replaced file names."""
    shutil.copytree(source / category, target / category)
    train = sorted((target / category / "train" / "ok").glob("*.png"))
    count = round(rate * len(train))
    chosen = [train[int(i)] for i in np.linspace(0, len(train) - 1, count)] if count else []
    for index, path in enumerate(chosen):
        defect = DEMO_HARD.defects[index % len(DEMO_HARD.defects)]
        image, _ = defective_image(image_rng(7, category, "test_ko", index), category, defect, DEMO_HARD)
        write_png(path, image)
    return {path.name for path in chosen}


def run_one(root: Path, category: str, rate: float, seed: int, replaced: set[str]) -> Row:
    config = config_from_flat({"data.dataset": "btad", "data.root": str(root), "data.category": category,
                               "seed": seed})
    data = prepare_data(config)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    inputs = prepare_run(config, data, device)
    result = fit(config, data, device, inputs=inputs)
    paths, scores = image_scores(result.flow, inputs.features.train, data, config.map)
    outliers = find_outliers(paths, scores)
    listed = {Path(outlier.path).name for outlier in outliers}
    aupro = result.report.aupro
    dropped = aupro
    if outliers:
        kept = without_images(data, [outlier.path for outlier in outliers])
        again = fit(config, kept, device, inputs=prepare_run(config, kept, device))
        dropped = again.report.aupro
    return Row(category, rate, seed, len(replaced), len(listed), len(listed & replaced), aupro, dropped)


def table(frame: pd.DataFrame, machine: str) -> Table:
    view = Table(title=f"Contamination of train/good (demo-hard, default config, outlier cut: modified z > "
                       f"{OUTLIER_Z:g}; {machine})", title_justify="left")
    for column in ("category", "contaminated", "replaced", "listed", "precision", "recall", "AUPRO",
                   "AUPRO --drop-outliers"):
        view.add_column(column, justify="left" if column == "category" else "right")
    for (category, rate), part in frame.groupby(["category", "rate"]):
        listed, hits, replaced = part["listed"].sum(), part["true_positives"].sum(), part["replaced"].sum()
        precision = f"{hits / listed:.2f}" if listed else "-"
        recall = f"{hits / replaced:.2f}" if replaced else "-"
        view.add_row(category, f"{rate:.0%}", str(replaced), str(listed), precision, recall,
                     f"{part['aupro'].mean():.3f}", f"{part['aupro_dropped'].mean():.3f}")
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.05, 0.1])
    parser.add_argument("--categories", nargs="+", default=list(DEMO_HARD.categories))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="skip the runs already in --output")
    args = parser.parse_args()
    source = prepare_root("demo-hard", default_root("demo-hard"))
    rows = [Row(*row) for row in pd.read_csv(args.output).itertuples(index=False)] \
        if args.resume and args.output and args.output.is_file() else []
    done = {(row.category, row.rate, row.seed) for row in rows}
    for category in args.categories:
        for rate in args.rates:
            for seed in args.seeds:
                if (category, rate, seed) in done:
                    continue
                with tempfile.TemporaryDirectory(prefix="contamination-") as folder:
                    replaced = contaminate(source, Path(folder), category, rate)
                    rows.append(run_one(Path(folder), category, rate, seed, replaced))
                if args.output is not None:
                    pd.DataFrame(rows).to_csv(args.output, index=False)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads"
    Console(width=140).print(table(pd.DataFrame(rows), machine))


if __name__ == "__main__":
    main()
