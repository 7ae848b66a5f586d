"""The one device rule of training, sweeps and scoring."""

from __future__ import annotations

import pytest
import torch

from ssflow.devices import resolve_device
from ssflow.errors import UserInputError


def test_auto_takes_cuda_only_where_it_exists() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_cuda_device_is_one_line() -> None:
    with pytest.raises(UserInputError, match=r"^device cuda: no CUDA device is available here; use device auto or cpu"):
        resolve_device("cuda")


def test_an_unknown_device_name_is_refused() -> None:
    with pytest.raises(UserInputError, match="device tpu: expected one of auto, cpu, cuda"):
        resolve_device("tpu")
