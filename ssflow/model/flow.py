"""One 2D normalizing flow per feature level (FrEIA ``AllInOneBlock`` stacks).

Each flow maps a feature map ``x`` (N, C, H, W) to ``z`` of the same shape with
``log p(x) = sum log N(z; 0, 1) + log |det dz/dx|``. Its coupling subnets come
from :func:`ssflow.model.subnets.subnet_constructor`; the flow never looks at them.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
from FrEIA.framework import SequenceINN
from FrEIA.modules import AllInOneBlock
from torch import nn

from ssflow.settings.config import FlowConfig
from ssflow.errors import IncompatibleDependency
from ssflow.model.subnets import subnet_constructor

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
FREIA_RELEASE = "0.2"  # the PyPI release whose AllInOneBlock this flow (and every saved model) was made with


def check_all_in_one_block() -> None:
    """Raise :class:`IncompatibleDependency` unless FrEIA's ``AllInOneBlock`` behaves as in release 0.2.

    FrEIA's GitHub main reports the same version number but stores a hard
    permutation as an index vector (0.2: a (C, C, 1, 1) 0/1 matrix, which
    :class:`HardPermutationBlock` and saved models rely on) and clamps the
    coupling scale as ``clamp * tanh(s / clamp)`` (0.2: ``clamp * tanh(s)``),
    which changes every trained model. Both are probed on a 2-channel block.
    """
    saved = np.random.get_state()  # the block draws its permutation from numpy's global generator
    try:
        with torch.random.fork_rng(devices=[]):
            block = AllInOneBlock([(2, 1, 1)], subnet_constructor=lambda c_in, c_out: nn.Conv2d(c_in, c_out, 1),
                                  affine_clamping=2.0, permute_soft=False)
            # 10 is scaled by the block's 0.1 to a coupling pre-activation of 1.
            _, log_det = block._affine(torch.zeros(1, 1, 1, 1), torch.full((1, 2, 1, 1), 10.0))
    finally:
        np.random.set_state(saved)
    matrix = block.w_perm is not None and tuple(block.w_perm.shape) == (2, 2, 1, 1)
    clamp = abs(float(log_det) - 2.0 * math.tanh(1.0)) < 1e-5
    if not (matrix and clamp):
        differs = ", ".join(name for name, ok in (("hard permutation storage", matrix), ("scale clamping", clamp))
                            if not ok)
        raise IncompatibleDependency(
            f"the installed FrEIA's AllInOneBlock differs from release {FREIA_RELEASE} ({differs}), which ssflow's "
            f"flows and saved models are built on; install it with: pip install FrEIA=={FREIA_RELEASE}")


check_all_in_one_block()


class FlowOutput(NamedTuple):
    z: list[torch.Tensor]  # per level (N, C_l, H_l, W_l)
    log_jac_det: list[torch.Tensor]  # per level (N,)


def _gather_channels(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, permutation)`` for a hard permutation matrix (C, C, 1, 1), as a gather."""
    return x.index_select(1, permutation.flatten(1).argmax(1))


class HardPermutationBlock(AllInOneBlock):
    """FrEIA's ``AllInOneBlock`` with a fixed channel permutation applied by indexing.

    FrEIA applies even a hard permutation as a 1x1 convolution with a 0/1
    matrix: C^2 multiply-adds per position in the forward and the backward
    pass (about 5 % of the default flow's arithmetic). Gathering the channels
    gives bit-identical outputs and leaves the parameters, and so every saved
    model, unchanged.
    """

    def __init__(self, dims_in: list[tuple[int, ...]], **kwargs: object) -> None:
        super().__init__(dims_in, permute_soft=False, **kwargs)
        self.permute_function = _gather_channels


def build_level_flow(channels: int, config: FlowConfig) -> SequenceINN:
    """A stack of ``config.coupling_blocks`` affine couplings over ``channels`` channels.

    Spatial size is not fixed here: the conv/attention subnets accept any H, W.
    """
    flow = SequenceINN(channels, 1, 1)
    constructor = subnet_constructor(
        config.block_pattern, config.hidden_channels, config.attention_heads, config.dropout
    )
    for _ in range(config.coupling_blocks):
        flow.append(HardPermutationBlock, subnet_constructor=constructor, affine_clamping=config.clamp)
    return flow


class ChannelStandardizer(nn.Module):
    """Fixed per-channel standardisation ``(x - mean) / std`` fitted on the normal training features.

    Raw CNN activations have scales from 0.01 to 10s; standardised inputs let
    the flow start near N(0, 1) and converge in a few epochs. A fixed affine map
    shifts every log-likelihood by the same constant, so rankings are unchanged.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))

    @torch.no_grad()
    def fit(self, features: torch.Tensor) -> None:
        """Set the statistics from features (N, C, H, W)."""
        self.mean.copy_(features.mean(dim=(0, 2, 3), keepdim=True))
        self.std.copy_(features.std(dim=(0, 2, 3), keepdim=True).clamp(min=1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MultiScaleFlow(nn.Module):
    """Independent flows, one per feature level, each behind a fixed channel standardiser."""

    def __init__(self, channels: Sequence[int], config: FlowConfig, seed: int) -> None:
        super().__init__()
        self.channels = tuple(channels)
        # FrEIA draws its hard permutations from numpy's global generator: seed it
        # for this construction only and put it back, so building is deterministic
        # without leaving global state behind.
        saved_numpy = np.random.get_state()
        try:
            np.random.seed(seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.levels = nn.ModuleList(build_level_flow(c, config) for c in self.channels)
        finally:
            np.random.set_state(saved_numpy)

        self.standardizers = nn.ModuleList(ChannelStandardizer(c) for c in self.channels)

    def fit_standardization(self, features: Sequence[torch.Tensor]) -> None:
        """Fit each level's standardiser on the normal training features (N, C_l, H_l, W_l)."""
        for standardizer, level in zip(self.standardizers, features):
            standardizer.fit(level)

    def forward(self, features: Sequence[torch.Tensor]) -> FlowOutput:
        if len(features) != len(self.levels):
            raise ValueError(f"expected {len(self.levels)} feature levels, got {len(features)}")
        zs, log_dets = [], []
        for flow, standardizer, x in zip(self.levels, self.standardizers, features):
            z, log_det = flow(standardizer(x))
            zs.append(z)
            log_dets.append(log_det)
        return FlowOutput(zs, log_dets)

    def inverse(self, zs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Map latents back to features (used to check invertibility)."""
        return [standardizer.std * flow(z, rev=True)[0] + standardizer.mean
                for flow, standardizer, z in zip(self.levels, self.standardizers, zs)]


def element_nll(z: torch.Tensor) -> torch.Tensor:
    """Negative log density of each latent element under N(0, 1): ``0.5 z^2 + 0.5 log 2 pi``."""
    return 0.5 * z.pow(2) + HALF_LOG_TWO_PI


def image_nll_per_dim(output: FlowOutput) -> torch.Tensor:
    """Per-image NLL divided by the number of feature dimensions over all levels, (N,).

    ``NLL_i = -(sum_{l,c,h,w} log N(z; 0, 1) + sum_l log det J_l)`` (paper, Eq. 2),
    divided by ``sum_l C_l H_l W_l`` so values compare across sizes and levels.
    """
    total = torch.zeros_like(output.log_jac_det[0])
    dims = 0
    for z, log_det in zip(output.z, output.log_jac_det):
        total = total + element_nll(z).flatten(1).sum(1) - log_det
        dims += z[0].numel()
    return total / dims


def position_energy(output: FlowOutput) -> list[torch.Tensor]:
    """Per level, the mean over channels of ``0.5 z^2`` at each position, (N, H_l, W_l)."""
    return [0.5 * z.pow(2).mean(1) for z in output.z]
