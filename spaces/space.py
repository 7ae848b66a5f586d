"""Search spaces as data: typed parameters read from a YAML file and validated on load.

A space file looks like::

    description: small and fast on CPU
    parameters:
      flow.coupling_blocks: {type: int, low: 2, high: 6}
      train.lr: {type: float, low: 2.0e-4, high: 3.0e-3, log: true}
      backbone.levels: {type: choice, choices: [[2, 3], [1, 2, 3]]}
      train.epochs: 8            # a fixed value

``preset: NAME`` (a preset of :mod:`ssflow.settings.presets`) fixes every key of that
preset first; the file's ``parameters`` search or override some of them, so a
space around a preset never restates it.

Every parameter name is a flat config key (``ssflow.settings.config.flat_keys``) and
every value the space can produce is checked against the config on load, so a
bad space fails before any trial starts. This module only describes spaces; it
samples nothing and never imports training code.
"""

from __future__ import annotations

import hashlib

import difflib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

from ssflow.errors import UserInputError
from ssflow.settings.flat_config import coerce_value, config_from_flat, flat_keys, looks_numeric
from ssflow.settings.presets import PRESETS
from ssflow.settings.yaml_files import read_yaml

SPACES_DIR = Path(__file__).resolve().parent
TOP_LEVEL_KEYS = ("description", "preset", "parameters")
PARAM_KEYS: dict[str, tuple[str, ...]] = {
    "int": ("type", "low", "high", "step", "log"),
    "float": ("type", "low", "high", "log"),
    "choice": ("type", "choices"),
    "fixed": ("type", "value"),
}


@dataclass(frozen=True)
class IntParam:
    """Integers ``low..high`` (both inclusive) in steps of ``step``, optionally log-uniform."""

    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False


@dataclass(frozen=True)
class FloatParam:
    """Real numbers in ``[low, high]``, uniform or log-uniform."""

    name: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class ChoiceParam:
    """One of ``choices``; list-valued config keys hold tuples, e.g. ``((2, 3), (1, 2, 3))``."""

    name: str
    choices: tuple[Any, ...]


@dataclass(frozen=True)
class FixedParam:
    """A constant every trial gets (a tuple for list-valued keys)."""

    name: str
    value: Any


Param = Union[IntParam, FloatParam, ChoiceParam, FixedParam]


@dataclass(frozen=True)
class SearchSpace:
    """A named set of parameters; ``params`` keep the file's order."""

    name: str
    description: str
    params: tuple[Param, ...]

    def fixed_values(self) -> dict[str, Any]:
        """The constant parameters as flat config values (tuples for list-valued keys)."""
        return {p.name: p.value for p in self.params if isinstance(p, FixedParam)}

    def searched(self) -> tuple[Param, ...]:
        """The parameters a searcher actually varies."""
        return tuple(p for p in self.params if not isinstance(p, FixedParam))

    @property
    def identity(self) -> str:
        """``<name>@<digest of its parameters>``: an edited space file gets another identity."""
        return f"{self.name}@{hashlib.sha256(repr(self.params).encode()).hexdigest()[:10]}"


def shipped_spaces() -> list[str]:
    """Names of the spaces shipped beside this module, e.g. ``["default", "demo", "paper"]``."""
    return sorted(path.stem for path in SPACES_DIR.glob("*.yaml"))


def resolve_space_path(path_or_name: str | Path) -> Path:
    """A bare name (``demo``) means a shipped space; anything else is a file path."""
    text = str(path_or_name)
    looks_like_path = isinstance(path_or_name, Path) or "/" in text or "\\" in text or text.endswith((".yaml", ".yml"))
    path = Path(text) if looks_like_path else SPACES_DIR / f"{text}.yaml"
    if not path.is_file():
        what = f"file {path}" if looks_like_path else f"space '{text}'"
        raise UserInputError(
            f"search space not found: {what}; shipped spaces: {', '.join(shipped_spaces())} (or pass a .yaml path)"
        )
    return path


def load_space(path_or_name: str | Path) -> SearchSpace:
    """Read and validate a space file; a bare name like ``demo`` loads ``spaces/demo.yaml``."""
    path = resolve_space_path(path_or_name)
    return parse_space(read_yaml(path), source=str(path), name=path.stem)


def parse_space(document: Any, source: str, name: str) -> SearchSpace:
    """Build a :class:`SearchSpace` from a parsed YAML document; ``source`` names it in errors."""
    if not isinstance(document, Mapping):
        raise UserInputError(
            f"{source}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, got {type(document).__name__}"
        )
    unknown = sorted(set(map(str, document)) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise UserInputError(
            f"{source}: unknown top-level key '{unknown[0]}'; expected only {', '.join(TOP_LEVEL_KEYS)}"
        )
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise UserInputError(f"{source}: 'description' must be a string, got {description!r}")
    parameters = document.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise UserInputError(
            f"{source}: 'parameters' must be a non-empty mapping of config keys, got {parameters!r};"
            " e.g. parameters: {flow.coupling_blocks: {type: int, low: 2, high: 6}}"
        )
    known = flat_keys()
    params = tuple(_parse_param(source, str(key), spec, known) for key, spec in parameters.items())
    params = _preset_params(source, document.get("preset"), {p.name for p in params}, known) + params
    space = SearchSpace(name=name, description=description, params=params)
    _check_values(source, space)
    return space


def _preset_params(source: str, name: Any, overridden: set[str], known: Mapping[str, Any]) -> tuple[Param, ...]:
    """The keys of preset ``name`` (None: no preset) the file does not set, as fixed parameters."""
    if name is None:
        return ()
    if not isinstance(name, str) or name not in PRESETS:
        raise UserInputError(f"{source}: preset {name!r} is not a preset; expected one of {', '.join(PRESETS)}")
    return tuple(FixedParam(key, coerce_value(key, value, known[key]))
                 for key, value in PRESETS[name].items() if key not in overridden)


def _parse_param(source: str, key: str, spec: Any, known: Mapping[str, Any]) -> Param:
    where = f"{source}: parameters.{key}"
    if key not in known:
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "see ssflow/settings/config.py for the config keys"
        raise UserInputError(f"{where}: unknown config key; {hint}")
    declared = known[key]
    if not isinstance(spec, Mapping):
        return FixedParam(key, _coerce(where, key, spec, declared))
    kind = spec.get("type")
    if kind not in PARAM_KEYS:
        raise UserInputError(
            f"{where}: unknown type {kind!r}; expected one of {', '.join(PARAM_KEYS)}"
            " (or a plain value for a fixed parameter)"
        )
    extra = sorted(set(map(str, spec)) - set(PARAM_KEYS[kind]))
    if extra:
        allowed = ", ".join(PARAM_KEYS[kind])
        raise UserInputError(f"{where}: unknown field '{extra[0]}' for type {kind}; allowed: {allowed}")
    if kind == "fixed":
        if "value" not in spec:
            raise UserInputError(f"{where}: type fixed needs a 'value'")
        return FixedParam(key, _coerce(where, key, spec["value"], declared))
    if kind == "choice":
        return _parse_choice(where, key, spec, declared)
    return _parse_range(where, key, kind, spec, declared)


def _parse_choice(where: str, key: str, spec: Mapping[str, Any], declared: Any) -> ChoiceParam:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UserInputError(f"{where}: 'choices' must be a non-empty list, got {choices!r}")
    values = tuple(_coerce(where, key, choice, declared) for choice in choices)
    duplicates = sorted({repr(v) for v in values if values.count(v) > 1})
    if duplicates:
        raise UserInputError(f"{where}: choice {duplicates[0]} appears more than once; list each choice once")
    return ChoiceParam(key, values)


def _parse_range(where: str, key: str, kind: str, spec: Mapping[str, Any], declared: Any) -> Param:
    if declared not in (int, float):
        raise UserInputError(
            f"{where}: type {kind} needs a numeric config key, but {key} holds {_type_name(declared)}; use type: choice"
        )
    if kind == "int" and declared is not int:
        raise UserInputError(f"{where}: type int on {key}, which holds a float; use type: float")
    if kind == "float" and declared is not float:
        raise UserInputError(f"{where}: type float on {key}, which holds an integer; use type: int")
    for field in ("low", "high"):
        if field not in spec:
            raise UserInputError(f"{where}: type {kind} needs '{field}'")
    low, high = (_number(where, field, spec[field], integer=kind == "int") for field in ("low", "high"))
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise UserInputError(f"{where}: 'log' must be true or false, got {log!r}")
    if low > high:
        raise UserInputError(f"{where}: low ({low}) is greater than high ({high}); swap them")
    if log and low <= 0:
        raise UserInputError(f"{where}: log scale needs low > 0, got low={low}; raise low or drop log")
    if kind == "float":
        return FloatParam(key, float(low), float(high), log)
    step = spec.get("step", 1)
    _require_number(where, "step", step, integer=True)
    if step < 1:
        raise UserInputError(f"{where}: 'step' must be >= 1, got {step}")
    if log and step != 1:
        raise UserInputError(f"{where}: log scale works only with step 1, got step={step}; drop one of them")
    if (high - low) % step:
        raise UserInputError(
            f"{where}: high - low ({high - low}) is not a multiple of step ({step});"
            f" e.g. high: {high - (high - low) % step}"
        )
    return IntParam(key, int(low), int(high), int(step), log)


def _number(where: str, field: str, value: Any, integer: bool) -> int | float:
    """``value`` as a number; ``2e-4``, which YAML 1.1 reads as a string, is the number users mean."""
    if not integer and isinstance(value, str) and looks_numeric(value):
        value = float(value)
    _require_number(where, field, value, integer)
    return value


def _require_number(where: str, field: str, value: Any, integer: bool) -> None:
    ok_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        expected = "an integer" if integer else "a number"
        raise UserInputError(f"{where}: '{field}' must be {expected}, got {value!r}")


def _coerce(where: str, key: str, value: Any, declared: Any) -> Any:
    # The config's own coercion decides what a key accepts; lists become tuples.
    try:
        return coerce_value(key, value, declared)
    except UserInputError as error:
        raise UserInputError(f"{where}: {error}") from None


def _check_values(source: str, space: SearchSpace) -> None:
    """Build configs at an anchor point and at every bound and choice moved from it.

    Parameters are sampled independently, so every combination is reachable: a
    config that fails anywhere here is a real hole in the space. The anchor is
    the fixed values plus each searched parameter's low bound or first choice.
    """
    candidates = {param.name: _candidates(param) for param in space.searched()}
    anchor = {**space.fixed_values(), **{name: values[0] for name, values in candidates.items()}}
    _build(source, "fixed values with low bounds and first choices", anchor)
    for name, values in candidates.items():
        for value in values[1:]:
            _build(source, f"parameters.{name}", {**anchor, name: value})


def _candidates(param: Param) -> tuple[Any, ...]:
    if isinstance(param, ChoiceParam):
        return param.choices
    return (param.low, param.high)


def _build(source: str, where: str, flat: Mapping[str, Any]) -> None:
    try:
        config_from_flat(flat)
    except UserInputError as error:
        raise UserInputError(f"{source}: {where}: {error}") from None


def _type_name(declared: Any) -> str:
    if typing.get_origin(declared) is tuple:
        return "a list"
    return {str: "a string", bool: "true/false"}.get(declared, getattr(declared, "__name__", str(declared)))
