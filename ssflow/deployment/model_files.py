"""Opening any model file for scoring (its kind: :func:`ssflow_runtime.model_kind.model_kind`).

A ``model.pt`` (written by ``train``) runs on torch; an ``.onnx`` file
(written by ``export-model`` or ``train --export onnx``) on ONNX Runtime,
without importing torch, timm or FrEIA: the torch path's module is imported
only when a ``model.pt`` is opened.
"""

from __future__ import annotations

from pathlib import Path

from ssflow.errors import SettingError
from ssflow_runtime.model_kind import ONNX, model_kind
from ssflow_runtime.onnx_model import open_onnx_model
from ssflow_runtime.scoring import OpenedModel


def open_model(path: str | Path, device_name: str = "auto", backbone_weights: str | Path = "") -> OpenedModel:
    """Open ``path`` for :func:`ssflow_runtime.scoring.score_images` on ``device_name`` (auto, cpu or cuda).

    ``backbone_weights``: where a model.pt's backbone weights file is now (see
    :func:`ssflow.deployment.model_io.load_model`); an ONNX model holds its backbone, so
    giving it one raises ``UserInputError``.
    """
    if model_kind(path) == ONNX:
        if backbone_weights:
            raise SettingError("backbone.weights", backbone_weights, f"{path} is an ONNX model, which holds its "
                                                                     "backbone; a weights file is for a model.pt")
        return open_onnx_model(path, device_name)
    # The one deferred import: torch, timm and FrEIA load only when a model.pt is opened.
    from ssflow.deployment.torch_scorer import open_torch_model

    return open_torch_model(path, device_name, backbone_weights)
