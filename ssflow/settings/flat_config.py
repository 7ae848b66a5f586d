"""The flat dotted-key view of :class:`~ssflow.settings.config.SSFlowConfig`: ``{"flow.clamp": 2.0, ...}``.

``--set``, search-space files and the results store name every setting by its
flat key. One function turns a flat dict into the dataclasses
(:func:`config_from_flat`, values coerced to the declared types and validated
by the dataclasses) and one turns them back (:func:`config_to_flat`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Mapping

from ssflow.settings.config import SECTIONS, SSFlowConfig, fail
from ssflow.errors import UserInputError


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(SSFlowConfig)
    return {name: hints[name] for name in SECTIONS}


def flat_keys() -> dict[str, Any]:
    """Every flat key with its declared type, e.g. ``{"flow.clamp": float, ...}``."""
    keys: dict[str, Any] = {"seed": int}
    for section, cls in _section_types().items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            keys[f"{section}.{f.name}"] = hints[f.name]
    return keys


_TYPE_WORDS = {int: "integers", float: "numbers", str: "strings"}


def coerce_value(key: str, value: Any, declared: Any) -> Any:
    """Convert a parsed value to the declared type of ``key`` or raise a one-line error."""
    origin = typing.get_origin(declared)
    if origin is tuple:
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            fail(key, value, "a list")
        (item_type, _) = typing.get_args(declared)
        try:
            return tuple(coerce_value(key, item, item_type) for item in value)
        except UserInputError:
            example = "[2, 3]" if item_type is int else "[...]"
            shown = list(value) if len(value) > 1 else value[0]
            fail(key, shown, f"a list of {_TYPE_WORDS.get(item_type, 'values')}, e.g. {example}")
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"config field {key} must not be a union")
    if declared is bool:
        if isinstance(value, bool):
            return value
        fail(key, value, "true or false")
    if declared is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or int(value) != value:
            fail(key, value, "an integer")
        return int(value)
    if declared is float:
        if isinstance(value, str) and looks_numeric(value):
            value = float(value)  # YAML 1.1 reads 3e-3 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(key, value, "a number")
        if not math.isfinite(value):  # NaN passes every range check and poisons training silently
            fail(key, value, "a finite number")
        return float(value)
    if declared is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            fail(key, value, "a string")
        return str(value)
    raise TypeError(f"unsupported config type {declared!r} for {key}")


def config_from_flat(flat: Mapping[str, Any], base: SSFlowConfig | None = None) -> SSFlowConfig:
    """Apply flat dotted keys to ``base`` (default config when None) and validate."""
    base = base or SSFlowConfig()
    known = flat_keys()
    updates: dict[str, dict[str, Any]] = {}
    seed = base.seed
    for key, value in flat.items():
        if key not in known:
            raise UserInputError(f"unknown config key '{key}'{_suggestion(key, known)}")
        typed = coerce_value(key, value, known[key])
        if key == "seed":
            seed = typed
            continue
        section, name = key.split(".", 1)
        updates.setdefault(section, {})[name] = typed
    sections = {
        name: dataclasses.replace(getattr(base, name), **updates.get(name, {})) for name in SECTIONS
    }
    return SSFlowConfig(**sections, seed=seed)


def _suggestion(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    if close:
        return f" (did you mean {', '.join(close)}?)"
    section = key.split(".", 1)[0]
    in_section = [k for k in known if k.startswith(section + ".")]
    return f"; keys of '{section}': {', '.join(in_section)}" if in_section else f"; sections: {', '.join(SECTIONS)}"


def config_to_flat(config: SSFlowConfig) -> dict[str, Any]:
    """The flat dotted-key view of ``config``; tuples become lists."""
    flat: dict[str, Any] = {"seed": config.seed}
    for section in SECTIONS:
        for key, value in dataclasses.asdict(getattr(config, section)).items():
            flat[f"{section}.{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def looks_numeric(text: str) -> bool:
    # YAML 1.1 reads "1e-3" as a string; users mean a number.
    try:
        float(text)
    except ValueError:
        return False
    return True
