"""Named configurations: ``default`` (fast, embedded backbone, CPU-friendly) and ``paper``.

``paper`` is the reference setting of Chiu & Lai (2023) as described in
METHOD.md: CaiT-M48 token features at 448 px, 2 x 5 coupling blocks with a
conv + attention subnet, the constrained loss with w = 0.5 and margin 0, Adam
2e-4 with cosine annealing. It needs the CaiT weights (hub or a local file)
and a GPU.
"""

from __future__ import annotations

from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat

PRESETS: dict[str, dict[str, object]] = {
    "default": {},
    "paper": {
        "backbone.name": "cait_m48_448",
        "backbone.levels": [47],  # the last of 48 blocks
        "backbone.image_size": 448,
        "flow.coupling_blocks": 10,
        "flow.block_pattern": "CA",
        "flow.hidden_channels": 128,
        "flow.clamp": 2.0,
        "flow.attention_heads": 4,
        "flow.dropout": 0.2,
        "synthesis.min_size": 0.03,
        "synthesis.max_size": 0.4,
        "synthesis.extra_patches": 3,
        "synthesis.blend": "poisson",
        "synthesis.bank_rounds": 0,  # fresh synthetic samples every step, as in the paper
        "loss.kind": "constrained",
        "loss.weight": 0.5,
        "loss.margin": 0.0,
        "train.epochs": 500,
        "train.batch_size": 16,
        "train.lr": 2e-4,
        "train.adam_eps": 1e-4,
        "train.weight_decay": 1e-5,
        "train.schedule": "cosine",
        "train.photometric": 0.0,  # the paper does not augment lighting
        "data.normalize": "none",  # nor level it
        "map.score": "density",
        "map.smoothing_sigma": 0.0,
        "map.image_score": "max",
    },
}


def preset(name: str) -> SSFlowConfig:
    if name not in PRESETS:
        raise UserInputError(f"unknown preset '{name}'; presets: {', '.join(PRESETS)}")
    return config_from_flat(PRESETS[name])
