"""A stand-in trial for scheduling benchmarks: sleeps what a real trial of the same config would compute.

Imported by Ray's workers, so it imports nothing heavy (no torch). The cost
of an epoch relative to the default config comes from measured ratios
(``benchmarks/README.md``: method study and epoch-cache tables, 2 x86_64
cores, 256 px): 4 conv couplings of width 64 = 1; width 32 trains in 0.67x;
a conv + attention subnet (``CA``) in 3.2x; adding the stride-4 level in 2.6x;
fresh synthesis instead of a synthetic bank in 1.3x; cost grows linearly with
the couplings. The objective is a smooth, seeded function of the config that
rises over epochs, so TPE and ASHA have something to work on.
"""

from __future__ import annotations

import math
import time
import zlib
from typing import Any, Mapping, NamedTuple

from ray import tune

from ssflow.settings.config import SSFlowConfig

FIXED_SHARE = 0.35  # of the default epoch: data, evaluation, everything the flow's size does not change
ATTENTION_BLOCK = 3.38  # an attention block costs this many conv blocks (CA = 3.2x the default)
STRIDE_4_LEVEL = 2.6  # levels (1, 2, 3) against (2, 3)
FRESH_SYNTHESIS = 1.3  # synthesis.bank_rounds = 0 against a bank


class StandInSetup(NamedTuple):
    """What a stand-in trial needs of its category (fields read by the sweep's store callback too)."""

    base: SSFlowConfig
    max_epochs: int
    seconds_per_epoch: float  # of the default config; every cost is relative to it


def epoch_cost(values: Mapping[str, Any], base: SSFlowConfig) -> float:
    """Seconds-per-epoch ratio of a config to the default one (see the module docstring)."""
    blocks = int(values.get("flow.coupling_blocks", base.flow.coupling_blocks))
    width = int(values.get("flow.hidden_channels", base.flow.hidden_channels))
    pattern = str(values.get("flow.block_pattern", base.flow.block_pattern))
    subnet = pattern.count("C") + ATTENTION_BLOCK * pattern.count("A")
    cost = FIXED_SHARE + (1 - FIXED_SHARE) * (blocks / 4) * (width / 64) ** 1.2 * subnet
    if 1 in list(values.get("backbone.levels", base.backbone.levels)):
        cost *= STRIDE_4_LEVEL
    if int(values.get("synthesis.bank_rounds", base.synthesis.bank_rounds)) == 0:
        cost *= FRESH_SYNTHESIS
    return cost


def quality(values: Mapping[str, Any], category: str) -> float:
    """A config's final objective in (0, 1): best near a category-specific learning rate and loss weight."""
    shift = (zlib.crc32(category.encode()) % 100) / 100
    lr = math.log10(float(values.get("train.lr", 2e-3)))
    weight = float(values.get("loss.weight", 0.2))
    return 0.95 - 0.08 * (lr + 2.7 + 0.3 * shift) ** 2 - 0.3 * (weight - 0.2 - 0.2 * shift) ** 2


def standin_trial(config: dict[str, Any], setups: Mapping[str, StandInSetup], data: Mapping[str, Any]) -> None:
    """Sleep each epoch for the config's cost and report a rising objective, like ``search.trainable.run_trial``."""
    setup = setups[config["category"]]
    seconds = setup.seconds_per_epoch * epoch_cost(config["values"], setup.base)
    final = quality(config["values"], config["category"])
    noise = (zlib.crc32(f"{config['key']}/{config['seed']}".encode()) % 1000) / 1000 * 0.02
    for epoch in range(1, setup.max_epochs + 1):
        time.sleep(seconds)
        objective = final * (1 - math.exp(-epoch / 3)) + noise
        tune.report({"epoch": epoch, "objective": objective, "selection_objective": objective,
                     "status": "running", "seconds": seconds * epoch, "epoch_seconds": seconds})
