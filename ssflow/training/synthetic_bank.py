"""A reusable bank of synthetic anomalies: masks and backbone features made once per run.

With fresh synthesis every training step sends its synthetic half through the
frozen backbone, so even with the clean features cached the backbone runs over
one image per normal image every epoch. A bank of ``synthesis.bank_rounds = R``
makes R synthetic variants of every training image before training (seeded,
from its own random stream), runs the backbone over them once, and epoch ``e``
trains each image against its variant ``e mod R``. R >= epochs means no
variant is seen twice; smaller R trades sample variety for backbone time.

The bank depends only on the clean training images, the synthesis settings,
the photometric strength (``train.photometric``: targets are relit first) and the seed, so trials that share those can share it through the on-disk
cache (see :mod:`ssflow.training.feature_cache`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ssflow.settings.config import SSFlowConfig, SynthesisConfig
from ssflow.datasets.prepared import PreparedData
from ssflow.model.features import extract_features
from ssflow.datasets.photometric import augment
from ssflow.training.synthesis import synthesize_batch

# The bank draws from its own stream so that it depends on the seed alone, not on
# how many numbers training consumed before it was built.
_BANK_STREAM = 0x5EED_BA4C
_CHUNK = 8  # images whose patches are mixed with each other while building the bank


class SyntheticBank(NamedTuple):
    """Round-major: entry ``r * images + i`` is variant r of training image i."""

    features: list[torch.Tensor]  # per level, (rounds * images, C_l, H_l, W_l) float32
    masks: torch.Tensor  # (rounds * images, H, W) bool
    images: int  # training images per round

    @property
    def rounds(self) -> int:
        return len(self.masks) // self.images

    def entries(self, epoch: int, index: np.ndarray) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The features and (B, 1, H, W) float masks of the variants that ``epoch`` trains ``index`` against."""
        offset = (epoch % self.rounds) * self.images
        rows = torch.from_numpy(np.asarray(index) + offset).to(self.masks.device)
        features = [level.index_select(0, rows) for level in self.features]
        return features, self.masks.index_select(0, rows).unsqueeze(1).float()


def synthesize_for(images: np.ndarray, config: SynthesisConfig,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic sample per image; a lone image takes patches from elsewhere in itself (one-shot)."""
    if len(images) == 1:
        synthetic, masks = synthesize_batch(np.concatenate([images, images]), config, rng)
        return synthetic[:1], masks[:1]
    return synthesize_batch(images, config, rng)


def build_synthetic_bank(backbone: nn.Module, data: PreparedData, config: SSFlowConfig,
                         device: torch.device) -> SyntheticBank:
    """``config.synthesis.bank_rounds`` seeded variants of every training image, through the backbone once."""
    rounds = config.synthesis.bank_rounds
    if rounds < 1:
        raise ValueError(f"synthesis.bank_rounds is {rounds}; a bank needs at least 1 round")
    rng = np.random.default_rng([config.seed, _BANK_STREAM])
    count = len(data.train)
    masks = np.empty((rounds * count, *data.train.shape[1:3]), dtype=bool)
    features: list[torch.Tensor] | None = None
    for round_index in range(rounds):
        order = rng.permutation(count)
        # Nearly equal chunks of at least _CHUNK images (fewer only when there are fewer), each through the
        # backbone as it is made: only one chunk of synthetic images is held at a time.
        for chunk in np.array_split(order, max(1, count // _CHUNK)):
            targets = data.train[chunk]
            if config.train.photometric:  # defects blended into relit images too: lighting is not a defect cue
                targets = augment(targets, config.train.photometric, rng)
            synthetic, masks[round_index * count + chunk] = synthesize_for(targets, config.synthesis, rng)
            rows = round_index * count + chunk
            levels = extract_features(backbone, synthetic, device)
            if features is None:
                features = [torch.empty((rounds * count, *level.shape[1:]), dtype=level.dtype, device=level.device)
                            for level in levels]
            index = torch.from_numpy(rows).to(device)
            for target, level in zip(features, levels):
                target.index_copy_(0, index, level)
    return SyntheticBank(features or [], torch.from_numpy(masks).to(device), count)
