"""Which torch device a run uses: the one rule for training, sweeps and scoring."""

from __future__ import annotations

import torch

from ssflow.errors import SettingError

DEVICE_NAMES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cpu``; ``cuda``.

    Raises:
        UserInputError: ``cuda`` where no CUDA device is available, or a name not in :data:`DEVICE_NAMES`.
    """
    if name not in DEVICE_NAMES:
        raise SettingError("device", name, f"expected one of {', '.join(DEVICE_NAMES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", "cuda", "no CUDA device is available here; use {device} auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
