"""Default config on every demo category: report-split metrics and wall time, as a table.

    python benchmarks/demo_quality.py [--categories wood fabric] [--device cpu]

Target (2 CPU cores): image AUROC >= 0.95 and pixel AUROC >= 0.95 per category,
in <= 3 minutes per category, data loading and backbone included.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from rich.console import Console
from rich.table import Table

from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.settings.flat_config import config_from_flat
from ssflow.devices import resolve_device
from ssflow.training.train import fit

TARGET_AUROC, TARGET_SECONDS = 0.95, 180.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", nargs="+", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = prepare_root("demo", default_root("demo"))
    categories = args.categories or list_categories("demo", root)
    device = resolve_device(args.device)
    table = Table(title=f"default config on demo ({platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} threads, {device})")
    for column in ("category", "image AUROC", "pixel AUROC", "AUPRO", "seconds", "meets target"):
        table.add_column(column)
    for category in categories:
        started = time.perf_counter()
        config = config_from_flat({"data.category": category, "seed": args.seed})
        data = prepare_data(config)
        result = fit(config, data, device)
        seconds = time.perf_counter() - started
        report = result.report
        ok = (report is not None and report.image_auroc >= TARGET_AUROC and report.pixel_auroc >= TARGET_AUROC
              and seconds <= TARGET_SECONDS)
        table.add_row(category, f"{report.image_auroc:.3f}", f"{report.pixel_auroc:.3f}", f"{report.aupro:.3f}",
                      f"{seconds:.0f}", "yes" if ok else "no")
    Console().print(table)


if __name__ == "__main__":
    main()
