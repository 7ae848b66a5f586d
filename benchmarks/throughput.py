"""Images per second: backbone-only forward (the floor), training and inference with the default config.

    python benchmarks/throughput.py [--category wood] [--device cpu] [--epochs 2] [--repeats 5]

Training counts the normal images per second of an epoch (each comes with one
synthetic image through the backbone and both through the flow), clean
features cached. Inference counts test images per second from pixels to map
(backbone + flow + map + smoothing).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Callable

import torch
from rich.console import Console
from rich.table import Table

from ssflow.model.backbone import configured_backbone
from ssflow.datasets.prepared import prepare_data
from ssflow.evaluation.evaluate import score_features
from ssflow.training.run_features import compute_run_features
from ssflow.model.features import extract_features
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.run_inputs import RunInputs
from ssflow.devices import resolve_device
from ssflow.training.train import fit


def _images_per_second(run: Callable[[], object], images: int, repeats: int, device: torch.device) -> float:
    """``images`` over the median of ``repeats`` timed calls, after one untimed call.

    The untimed call creates oneDNN's kernels for these exact batch shapes
    (and CUDA's), so neither rate pays a first-call cost the other does not.
    """
    run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - started)
    return images / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="wood")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over the test images (median)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = config_from_flat({"data.category": args.category, "train.epochs": args.epochs})
    data = prepare_data(config)
    backbone = configured_backbone(config, device)
    test_images = data.report.images

    backbone_rate = _images_per_second(lambda: extract_features(backbone, test_images, device),
                                       len(test_images), args.repeats, device)

    run_features = compute_run_features(backbone, data, device)
    epoch_seconds: list[float] = []
    result = fit(config, data, device, on_epoch=lambda r: epoch_seconds.append(r.epoch_seconds),
                 inputs=RunInputs(backbone, run_features, None))
    train_rate = len(data.train) / min(epoch_seconds)

    def infer() -> None:
        features = extract_features(backbone, test_images, device)
        score_features(result.flow, features, config.backbone.image_size, config.map)

    inference_rate = _images_per_second(infer, len(test_images), args.repeats, device)

    table = Table(title=f"default config, demo/{args.category}, {config.backbone.image_size} px "
                        f"({platform.machine()}, {torch.get_num_threads()} threads, {device})")
    for column in ("what", "images/s", "vs backbone-only"):
        table.add_column(column)
    table.add_row("backbone forward only (floor)", f"{backbone_rate:.1f}", "1.00")
    table.add_row("training (normal images; epoch incl. evaluation)", f"{train_rate:.1f}",
                  f"{train_rate / backbone_rate:.2f}")
    table.add_row("inference (pixels to smoothed map)", f"{inference_rate:.1f}",
                  f"{inference_rate / backbone_rate:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
