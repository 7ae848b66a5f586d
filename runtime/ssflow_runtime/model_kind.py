"""Which kind of model file a path holds: a torch ``model.pt`` (written by ``train``) or an exported ``.onnx``."""

from __future__ import annotations

from pathlib import Path

from ssflow_runtime.errors import UserInputError

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
