"""Scoring with a ``model.pt``: torch, timm and FrEIA, on CPU or CUDA.

The same steps as evaluation during training (:func:`ssflow.model.features.extract_features`,
then :func:`ssflow.evaluation.evaluate.score_features`), so scores equal those the
calibration was fitted on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ssflow.model.backbone import FeatureExtractor, configured_backbone
from ssflow.errors import UserInputError
from ssflow.evaluation.evaluate import score_features
from ssflow.model.features import extract_features
from ssflow.deployment.model_io import LoadedModel, load_model
from ssflow.settings.config_files import config_to_nested
from ssflow.devices import resolve_device
from ssflow_runtime.scoring import OpenedModel, Scorer, model_settings


def check_backbone(model: LoadedModel, backbone: FeatureExtractor) -> None:
    """The backbone must give the feature channels the flow was trained on."""
    if tuple(backbone.channels) != tuple(model.flow.channels):
        raise UserInputError(
            f"backbone '{backbone.name}' levels {list(backbone.levels)} give channels {list(backbone.channels)}, "
            f"but the model's flow was trained on {list(model.flow.channels)}; the model file and its "
            "backbone config do not belong together")
    if backbone.normalize != model.config.data.normalize:
        raise UserInputError(
            f"backbone input normalisation '{backbone.normalize}' but the model was trained with data.normalize="
            f"'{model.config.data.normalize}'; build its backbone with ssflow.model.backbone.configured_backbone")


def torch_scorer(model: LoadedModel, backbone: FeatureExtractor, device: torch.device,
                 batch_size: int = 16) -> Scorer:
    """A :data:`ssflow_runtime.scoring.Scorer` running ``backbone`` and ``model.flow`` on ``device``."""
    check_backbone(model, backbone)
    size = model.config.backbone.image_size

    def score(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features = extract_features(backbone, images, device, batch_size)
        return score_features(model.flow, features, size, model.config.map, batch_size)

    return score


def open_torch_model(path: str | Path, device_name: str = "auto", backbone_weights: str | Path = "") -> OpenedModel:
    """A ``model.pt`` (see :func:`ssflow.deployment.model_io.load_model`, which ``backbone_weights`` goes to) with its
    backbone, ready to score."""
    device = resolve_device(device_name)
    model = load_model(path, device, backbone_weights)
    backbone = configured_backbone(model.config, device)
    inputs, rule = model_settings(config_to_nested(model.config), path)
    return OpenedModel(str(path), "model.pt", inputs, model.calibration, torch_scorer(model, backbone, device),
                       str(device), rule)
