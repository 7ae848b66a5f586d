"""``model.pt``: flow weights, resolved config and calibration, loadable with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from ssflow.model.backbone_weights import weights_identity
from ssflow_runtime.calibration import Calibration, calibration_from_dict, calibration_to_dict
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import config_to_nested, flatten_nested
from ssflow.durable import sync_file, sync_folder
from ssflow.errors import SettingError, UserInputError
from ssflow.settings.flat_config import config_from_flat
from ssflow.model.flow import MultiScaleFlow

FORMAT = "ssflow-model/1"


class LoadedModel(NamedTuple):
    config: SSFlowConfig
    flow: MultiScaleFlow
    calibration: Calibration


def _weights_record(config: SSFlowConfig) -> str:
    """The identity of a backbone weights file the model depends on ("" for embedded or hub weights)."""
    return weights_identity(config.backbone.name, config.backbone.weights) if config.backbone.weights else ""


def save_model(path: str | Path, config: SSFlowConfig, flow: MultiScaleFlow, calibration: Calibration) -> None:
    """Write atomically: a temporary sibling, then a rename."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "config": config_to_nested(config),
        "channels": list(flow.channels),
        "flow": {k: v.detach().cpu() for k, v in flow.state_dict().items()},
        "calibration": calibration_to_dict(calibration),
        # A weights file is referred to by path: its digest lets a moved or replaced file be caught at load.
        "backbone_weights": _weights_record(config),
    }
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(payload, temporary)
    sync_file(temporary)  # durable before the rename publishes it
    temporary.replace(path)
    sync_folder(path.parent)


def load_model(path: str | Path, device: torch.device | str = "cpu", backbone_weights: str | Path = ""
               ) -> LoadedModel:
    """Read a ``model.pt`` written by :func:`save_model` (no pickled code is executed).

    ``backbone_weights``: where the backbone weights file the model was trained
    with is now (default: the path it was trained with). The file must be the
    same (its sha256 digest is stored in the model).

    Raises:
        UserInputError: a missing, unreadable or foreign file, damaged contents, or a backbone weights file
            that is missing or differs from the one the model was trained with (one line each).
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file
        raise UserInputError(f"{path}: not a model.pt written by 'train' (torch cannot read it: "
                             f"{type(error).__name__}); expected a model.pt or an exported .onnx") from None
    stated = payload.get("format") if isinstance(payload, dict) else None
    if isinstance(stated, str) and stated.startswith("ssflow-model/") and stated != FORMAT:
        raise UserInputError(f"{path}: an ssflow model of format {stated}, which this version ({FORMAT}) cannot read")
    if stated != FORMAT:
        raise UserInputError(f"{path}: not an ssflow model file (expected format {FORMAT})")
    missing = [key for key in ("config", "calibration", "channels", "flow") if key not in payload]
    if missing:
        raise UserInputError(f"{path}: damaged model file (no {', '.join(missing)})")
    config = config_from_flat(flatten_nested(payload["config"], str(path)))
    config = _with_weights(path, config, str(backbone_weights), str(payload.get("backbone_weights") or ""))
    try:
        calibration = calibration_from_dict(payload["calibration"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserInputError(f"{path}: damaged calibration in the model file ({error})") from None
    flow = MultiScaleFlow(payload["channels"], config.flow, config.seed)
    try:
        flow.load_state_dict(payload["flow"])
    except RuntimeError as error:  # names or shapes that the stored config does not build
        first = str(error).strip().splitlines()[0][:160]
        raise UserInputError(f"{path}: the flow weights do not fit the model's own config ({first})") from None
    flow.to(torch.device(device)).eval()
    return LoadedModel(config, flow, calibration)


def _with_weights(path: Path, config: SSFlowConfig, moved_to: str, recorded: str) -> SSFlowConfig:
    """``config`` with its backbone weights file at ``moved_to`` (if given), checked against ``recorded``."""
    if moved_to and not config.backbone.weights:
        raise SettingError("backbone.weights", moved_to, f"{path} uses the {config.backbone.name} weights it "
                                                       "ships with, not a weights file; leave it out")
    if moved_to:
        config = config_from_flat({"backbone.weights": moved_to}, config)
    if recorded and _weights_record(config) != recorded:
        raise SettingError("backbone.weights", config.backbone.weights,
                           f"not the file {path} was trained with (digest {_weights_record(config)}, expected "
                           f"{recorded}); give that file")
    return config
