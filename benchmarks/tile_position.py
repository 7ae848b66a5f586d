"""Does a tile's position matter to the flow? The share of normal tiles' score variance that position explains.

    python benchmarks/tile_position.py [--dataset demo-hires] [--categories fabric granite]
        [--data-root DIR] [--tile-size 256] [--image-size 256] [--epochs 10] [--seed 0]

One flow learns from every tile of every image, without the tile's position
(runtime/ssflow_runtime/tiling.py). That is right when a normal tile looks alike wherever it
sits (a texture, a web, a repeated part) and wrong when position decides what
is normal (a fixed object layout). This trains the tiled default config on a
category, scores the normal test images tile by tile, and reports eta squared:
the between-position variance of the per-tile mean scores over their total
variance (0: position explains nothing; 1: everything), beside what it is by
chance alone with that many images and positions. Images of one size
share one layout, so tile k is the same place in every image. A category
whose eta squared is large is one where a positional input would be worth
measuring; the tables in benchmarks/README.md say what it is on the demo data.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ssflow.datasets.prepared import prepare_data
from ssflow.evaluation.evaluate import score_features
from ssflow.model.features import extract_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import prepare_run
from ssflow.training.train import fit


def eta_squared(scores: np.ndarray) -> float:
    """Between-group over total variance of ``scores`` (images, positions): the positions are the groups."""
    total = float(((scores - scores.mean()) ** 2).sum())
    between = float(scores.shape[0] * ((scores.mean(axis=0) - scores.mean()) ** 2).sum())
    return between / total if total > 0 else 0.0


def measure(dataset: str, category: str, tile_size: int, epochs: int, seed: int, root: str = "",
            image_size: int = 256) -> dict[str, float]:
    config = config_from_flat({"data.dataset": dataset, "data.root": root, "data.category": category,
                               "data.tile_size": tile_size, "backbone.image_size": image_size,
                               "train.epochs": epochs, "seed": seed, "data.split_seed": seed})
    device = torch.device("cpu")
    data = prepare_data(config)
    inputs = prepare_run(config, data, device)
    result = fit(config, data, device, inputs=inputs)
    split = data.report
    offsets = split.offsets
    normal = [index for index in range(len(split)) if split.labels[index] == 0]
    counts = {offsets[i + 1] - offsets[i] for i in normal}
    if len(counts) != 1:
        raise SystemExit(f"{category}: normal images of different sizes; positions are not comparable")
    rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in normal])
    features = extract_features(inputs.backbone, split.images[rows], device)
    maps, _ = score_features(result.flow, features, config.backbone.image_size, config.map)
    per_tile = maps.reshape(len(normal), counts.pop(), -1).mean(axis=2)
    images, tiles = per_tile.shape
    return {"category": category, "tiles": tiles, "images": images, "eta_squared": eta_squared(per_tile),
            # what eta squared is on average when position explains nothing: (groups - 1) / (values - 1)
            "by_chance": (tiles - 1) / (images * tiles - 1),
            "report_aupro": result.report.aupro if result.report else np.nan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="demo-hires")
    parser.add_argument("--categories", nargs="+", default=["fabric", "granite"])
    parser.add_argument("--data-root", default="", help="the dataset's folder (default: its default location)")
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [measure(args.dataset, category, args.tile_size, args.epochs, args.seed, args.data_root, args.image_size)
            for category in args.categories]
    table = Table(title=f"{args.dataset}, tile_size {args.tile_size}: position's share of normal tiles' score variance")
    for column in rows[0]:
        table.add_column(column, justify="left" if column == "category" else "right")
    for row in rows:
        table.add_row(row["category"], str(row["tiles"]), str(row["images"]), f"{row['eta_squared']:.3f}",
                      f"{row['by_chance']:.3f}", f"{row['report_aupro']:.3f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
