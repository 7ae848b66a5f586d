"""The clean backbone features of a run's data: computed once per run (or read from the feature cache)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ssflow.datasets.prepared import PreparedData
from ssflow.model.features import extract_features


class RunFeatures(NamedTuple):
    """Backbone features per level (N, C_l, H_l, W_l) of each part of a run's data."""

    train: list[torch.Tensor]
    selection: list[torch.Tensor]
    report: list[torch.Tensor]
    validation: list[torch.Tensor]  # [] without a synthetic validation set


def compute_run_features(backbone: nn.Module, data: PreparedData, device: torch.device) -> RunFeatures:
    """Backbone features of the clean images of a run (training, both test splits, synthetic validation set)."""
    return RunFeatures(
        train=extract_features(backbone, data.train, device),
        selection=extract_features(backbone, data.selection.images, device),
        report=extract_features(backbone, data.report.images, device),
        validation=extract_features(backbone, data.validation.images, device) if data.validation else [],
    )
