"""Self-supervised losses: raise the likelihood of normal images, lower that of synthetic ones.

All NLLs are per feature dimension (see :func:`ssflow.model.flow.image_nll_per_dim`),
so margins mean the same thing for every backbone, level and image size. A sum
over 1e5-1e6 dimensions made the paper's absolute guard (NLL < 1e5) drop every
synthetic sample on CNN features; these guards are relative instead.

Kinds (``LossConfig.kind``):

``constrained`` (Chiu & Lai 2023, Eq. 4, margin generalised)
    keep synthetic samples with finite NLL below ``max(NLL_normal) + margin``;
    ``L = (1 - w) mean NLL_normal - w mean NLL_kept``, or ``mean NLL_normal``
    when none is kept. Synthetic samples already less likely than every normal
    one stop pulling on the model.
``hinge``
    ``L = (1 - w) mean NLL_normal + w mean relu(mean NLL_normal + margin - NLL_syn)``:
    stops pushing once a synthetic image is ``margin`` less likely than normal.
``pixel_hinge``
    uses the synthetic pixel mask: ``L = (1 - w) mean NLL_normal + w H`` where
    ``H`` averages ``relu(e_normal + margin - e)`` over the masked positions of
    every level, ``e`` the per-position energy ``mean_c 0.5 z^2`` and
    ``e_normal`` its mean over the normal images' positions (detached).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ssflow.settings.config import LossConfig
from ssflow.model.flow import FlowOutput, image_nll_per_dim, position_energy


class LossOutput(NamedTuple):
    loss: torch.Tensor  # scalar, the value to minimise
    nll_normal: float  # mean per-dimension NLL of the normal images
    nll_synthetic: float  # mean per-dimension NLL of the synthetic images
    active: float  # share of synthetic samples (or masked positions) still pushed on


def _split(output: FlowOutput, n_normal: int) -> tuple[FlowOutput, FlowOutput]:
    normal = FlowOutput([z[:n_normal] for z in output.z], [j[:n_normal] for j in output.log_jac_det])
    synthetic = FlowOutput([z[n_normal:] for z in output.z], [j[n_normal:] for j in output.log_jac_det])
    return normal, synthetic


def constrained_loss(nll_normal: torch.Tensor, nll_synthetic: torch.Tensor,
                     config: LossConfig) -> tuple[torch.Tensor, float]:
    """The paper's constrained loss on per-dimension NLLs (N,), (M,)."""
    bound = nll_normal.detach().max() + config.margin
    kept = torch.isfinite(nll_synthetic) & (nll_synthetic < bound)
    if not kept.any():
        return nll_normal.mean(), 0.0
    loss = (1 - config.weight) * nll_normal.mean() - config.weight * nll_synthetic[kept].mean()
    return loss, kept.float().mean().item()


def hinge_loss(nll_normal: torch.Tensor, nll_synthetic: torch.Tensor,
               config: LossConfig) -> tuple[torch.Tensor, float]:
    """Image-level hinge on per-dimension NLLs (N,), (M,)."""
    target = nll_normal.detach().mean() + config.margin
    gap = F.relu(target - torch.nan_to_num(nll_synthetic, nan=0.0))
    loss = (1 - config.weight) * nll_normal.mean() + config.weight * gap.mean()
    return loss, (gap > 0).float().mean().item()


def pixel_hinge_loss(normal: FlowOutput, synthetic: FlowOutput, masks: torch.Tensor,
                     nll_normal: torch.Tensor, config: LossConfig) -> tuple[torch.Tensor, float]:
    """Position-level hinge on masked positions; ``masks`` (M, 1, H, W) float in {0, 1}."""
    gaps, weights, active, total = [], [], 0.0, 0.0
    for e_normal, e_synthetic in zip(position_energy(normal), position_energy(synthetic)):
        size = e_synthetic.shape[-2:]
        # A position counts as anomalous when most of its receptive cell is masked.
        level_mask = (F.adaptive_avg_pool2d(masks, size)[:, 0] >= 0.5).float()
        target = e_normal.detach().mean() + config.margin
        gap = F.relu(target - e_synthetic) * level_mask
        gaps.append(gap.sum())
        weights.append(level_mask.sum())
        active += ((gap > 0).float() * level_mask).sum().item()
        total += level_mask.sum().item()
    masked = torch.stack(weights).sum()
    hinge = torch.stack(gaps).sum() / masked.clamp(min=1.0)
    loss = (1 - config.weight) * nll_normal.mean() + config.weight * hinge
    return loss, active / total if total else 0.0


def self_supervised_loss(output: FlowOutput, n_normal: int, masks: torch.Tensor | None,
                         config: LossConfig) -> LossOutput:
    """Loss of one batch whose first ``n_normal`` samples are normal and the rest synthetic.

    ``masks`` (M, 1, H, W): the synthetic samples' pixel masks (needed by ``pixel_hinge``).
    """
    normal, synthetic = _split(output, n_normal)
    nll_normal = image_nll_per_dim(normal)
    if not synthetic.z[0].shape[0]:
        return LossOutput(nll_normal.mean(), nll_normal.mean().item(), float("nan"), 0.0)
    nll_synthetic = image_nll_per_dim(synthetic)
    if config.kind == "pixel_hinge":
        if masks is None:
            raise ValueError("pixel_hinge loss needs the synthetic masks")
        loss, active = pixel_hinge_loss(normal, synthetic, masks, nll_normal, config)
    else:
        loss, active = IMAGE_LOSSES[config.kind](nll_normal, nll_synthetic, config)
    return LossOutput(loss, nll_normal.mean().item(), nll_synthetic.detach().mean().item(), active)


IMAGE_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, LossConfig], tuple[torch.Tensor, float]]] = {
    "constrained": constrained_loss,
    "hinge": hinge_loss,
}
