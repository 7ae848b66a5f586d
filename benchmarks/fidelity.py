"""Do cheap fidelities rank configs as the full one does? Spearman over the same configs on demo-hard.

    python benchmarks/fidelity.py [--dataset demo-hard] [--configs 8] [--space default] [--seed 0]
        [--sizes 256 128] [--epochs 10] [--output fidelity.csv [--resume]]

``--configs`` configs are drawn at random from the space (seeded; the default
config first) and each is trained on every category at every ``--sizes``
input size for ``--epochs`` epochs, its selection-split objective recorded
after every epoch. Then, per category and pooled over categories (each
category's objectives centred first), the Spearman rank correlation between
the full fidelity (first size, last epoch) and each cheaper one: a smaller
input size at the full budget, and the full size after fewer epochs (what an
ASHA rung sees). Training seconds per fidelity are summed beside it. A
multi-fidelity search is only worth its complexity where the cheap fidelity's
correlation is high and its cost low.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import NamedTuple

import optuna
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table
from scipy.stats import spearmanr

from spaces.optuna_distributions import decode_params, distributions
from spaces.space import load_space
from ssflow.datasets.prepared import prepare_data
from ssflow.datasets import default_root, list_categories, prepare_root
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.train import EpochReport, fit


class Row(NamedTuple):
    category: str
    config: int
    size: int
    epoch: int
    objective: float
    seconds: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="demo-hard")
    parser.add_argument("--categories", nargs="+", default=None)
    parser.add_argument("--space", default="default")
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 128])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resume", action="store_true")
    return parser.parse_args()


def sampled_configs(space_name: str, count: int, seed: int) -> list[dict]:
    """``count`` flat value sets: {} (the default) first, then random draws from the space."""
    space = load_space(space_name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs: list[dict] = [{}]
    for _ in range(count - 1):
        trial = study.ask(distributions(space))
        configs.append({**space.fixed_values(), **decode_params(space, trial.params)})
    return configs


def train(args: argparse.Namespace, category: str, index: int, values: dict, size: int) -> list[Row]:
    config = config_from_flat({**values, "data.dataset": args.dataset, "data.category": category,
                               "backbone.image_size": size, "train.epochs": args.epochs, "seed": args.seed})
    data = prepare_data(config)
    rows: list[Row] = []
    started = time.perf_counter()

    def on_epoch(report: EpochReport) -> None:
        rows.append(Row(category, index, size, report.epoch, report.objective, time.perf_counter() - started))

    fit(config, data, "cpu", on_epoch=on_epoch)
    return rows


def correlations(frame: pd.DataFrame, full_size: int, epochs: int) -> pd.DataFrame:
    """Spearman of every cheaper fidelity against (full_size, epochs), per category and pooled."""
    def at(size: int, epoch: int) -> pd.DataFrame:
        part = frame[(frame["size"] == size) & (frame["epoch"] == epoch)]
        return part.set_index(["category", "config"])["objective"]

    full = at(full_size, epochs)
    fidelities = [(size, epochs) for size in sorted(set(frame["size"])) if size != full_size]
    fidelities += [(full_size, epoch) for epoch in sorted(set(frame["epoch"])) if epoch < epochs]
    out = []
    for size, epoch in fidelities:
        cheap = at(size, epoch)
        joined = pd.concat([full.rename("full"), cheap.rename("cheap")], axis=1).dropna()
        cost = frame[(frame["size"] == size) & (frame["epoch"] == epoch)]["seconds"].sum()
        row = {"fidelity": f"{size} px, {epoch} epochs", "cost share": cost / frame[
            (frame["size"] == full_size) & (frame["epoch"] == epochs)]["seconds"].sum()}
        for category, part in joined.groupby(level="category"):
            row[category] = spearmanr(part["full"], part["cheap"]).statistic
        centred = joined - joined.groupby(level="category").transform("mean")
        row["pooled"] = spearmanr(centred["full"], centred["cheap"]).statistic
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    args = parse_args()
    console = Console()
    root = prepare_root(args.dataset, default_root(args.dataset))
    categories = args.categories or list_categories(args.dataset, root)
    done = pd.read_csv(args.output) if args.resume and args.output and args.output.is_file() else pd.DataFrame()
    rows = [Row(*values) for values in done[list(Row._fields)].itertuples(index=False)] if not done.empty else []
    configs = sampled_configs(args.space, args.configs, args.seed)
    for index, values in enumerate(configs):
        for category in categories:
            for size in args.sizes:
                if any(r.category == category and r.config == index and r.size == size for r in rows):
                    continue
                rows.extend(train(args, category, index, values, size))
                if args.output is not None:
                    pd.DataFrame(rows).to_csv(args.output, index=False)
                console.log(f"{category} config {index} at {size} px: objective {rows[-1].objective:.4f}")
    table_frame = correlations(pd.DataFrame(rows), args.sizes[0], args.epochs)
    table = Table(title=f"Spearman against {args.sizes[0]} px, {args.epochs} epochs: {len(configs)} configs of "
                        f"{args.space} on {args.dataset}, seed {args.seed} ({platform.machine()}, "
                        f"{torch.get_num_threads()} threads)", title_justify="left")
    for column in table_frame.columns:
        table.add_column(column, justify="left" if column == "fidelity" else "right")
    for _, row in table_frame.iterrows():
        table.add_row(*(str(v) if isinstance(v, str) else f"{v:.2f}" for v in row))
    console.print(table)


if __name__ == "__main__":
    main()
