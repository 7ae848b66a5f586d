"""Which kind of model file a path holds, and opening it for scoring.

A ``model.pt`` (written by ``train``) runs on torch; an ``.onnx`` file
(written by ``export-model`` or ``train --export onnx``) on ONNX Runtime,
without importing torch, timm or FrEIA: the torch path's module is imported
only when a ``model.pt`` is opened.
"""

from __future__ import annotations

from pathlib import Path

from ssflow.errors import UserInputError
from ssflow.onnx_model import open_onnx_model
from ssflow.predict import OpenedModel

TORCH, ONNX = "model.pt", "onnx"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
EXPECTED = "expected a model.pt written by 'train' or a .onnx file written by 'export-model'"


def model_kind(path: str | Path) -> str:
    """:data:`TORCH` or :data:`ONNX`, from the suffix, else from the first bytes.

    Raises :class:`UserInputError` for a missing file, a folder, or a file
    that is neither.
    """
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"--model {path}: is a folder; {EXPECTED} (e.g. {path / 'model.pt'})")
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return ONNX
    if suffix in (".pt", ".pth"):
        return TORCH
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == _ZIP_MAGIC:
        return TORCH
    if head[:1] == b"\x08":  # an ONNX ModelProto starts with field 1 (ir_version), a varint
        return ONNX
    raise UserInputError(f"--model {path}: not a model file; {EXPECTED}")


def open_model(path: str | Path, device_name: str = "auto", backbone_weights: str | Path = "") -> OpenedModel:
    """Open ``path`` for :func:`ssflow.predict.score_images` on ``device_name`` (auto, cpu or cuda).

    ``backbone_weights``: where a model.pt's backbone weights file is now (see
    :func:`ssflow.model_io.load_model`); an ONNX model holds its backbone, so
    giving it one raises ``UserInputError``.
    """
    if model_kind(path) == ONNX:
        if backbone_weights:
            raise UserInputError(f"--backbone-weights {backbone_weights}: {path} is an ONNX model, which holds its "
                                 "backbone; the flag is for a model.pt")
        return open_onnx_model(path, device_name)
    # The one deferred import: torch, timm and FrEIA load only when a model.pt is opened.
    from ssflow.torch_scorer import open_torch_model

    return open_torch_model(path, device_name, backbone_weights)
