"""Configs as files: the nested YAML form written to ``config.yaml``, and ``--set key=value`` overrides.

The flat dotted keys and their validation live in :mod:`ssflow.settings.config`; this
module turns files and command-line text into them and back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from ssflow.settings.config import SECTIONS, SSFlowConfig
from ssflow.errors import SettingError, UserInputError
from ssflow.settings.flat_config import config_from_flat, config_to_flat, flat_keys, looks_numeric
from ssflow.settings.yaml_files import read_yaml


def config_to_nested(config: SSFlowConfig) -> dict[str, Any]:
    """The nested dict written to ``config.yaml``."""
    nested: dict[str, Any] = {}
    for key, value in config_to_flat(config).items():
        if "." in key:
            section, name = key.split(".", 1)
            nested.setdefault(section, {})[name] = value
        else:
            nested[key] = value
    return nested


def flatten_nested(nested: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Turn ``{section: {name: value}}`` into flat dotted keys; ``source`` names the file in errors."""
    flat: dict[str, Any] = {}
    for section, body in nested.items():
        if section == "seed":
            flat["seed"] = body
        elif section in SECTIONS and isinstance(body, Mapping):
            for name, value in body.items():
                flat[f"{section}.{name}"] = value
        elif section in SECTIONS:
            raise UserInputError(f"{source}: section '{section}' must be a mapping, got {body!r}")
        else:
            raise UserInputError(
                f"{source}: unknown section '{section}'; expected one of {', '.join(['seed', *SECTIONS])}"
            )
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is read as YAML (``1e-3``, ``[2, 3]``, ``true``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SettingError("overrides", repr(text), "expected key=value, e.g. flow.coupling_blocks=8")
    if flat_keys().get(key.strip()) is str:  # as typed: YAML 1.1 would turn category 01 into 1, no into false
        return key.strip(), _unquoted(raw.strip())
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and looks_numeric(value):
        value = float(value)
    return key.strip(), value


def _unquoted(text: str) -> str:
    """``text`` without one pair of matching surrounding quotes (``'01'`` or ``"01"``)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def load_config_file(path: str | Path, base: SSFlowConfig | None = None) -> SSFlowConfig:
    """Read a nested config YAML (as written to ``config.yaml``) on top of ``base``."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"config file not found: {path}")
    nested = read_yaml(path) or {}
    if not isinstance(nested, Mapping):
        raise UserInputError(f"{path}: expected a mapping of sections, got {type(nested).__name__}")
    return config_from_flat(_strings_as_typed(flatten_nested(nested, str(path)), path), base)


def _strings_as_typed(flat: dict[str, Any], path: Path) -> dict[str, Any]:
    """``flat`` with each string key's value as written in the file where YAML 1.1 made it a number or a
    boolean (``category: 01`` is ``"01"``, not 1; ``dataset: no`` is ``"no"``, not false)."""
    declared = flat_keys()
    retyped = [key for key, value in flat.items()
               if declared.get(key) is str and isinstance(value, (bool, int, float))]
    if not retyped:
        return flat
    as_written = flatten_nested(yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader), str(path))
    return {**flat, **{key: as_written[key] for key in retyped if isinstance(as_written.get(key), str)}}


def save_config_file(config: SSFlowConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_nested(config), sort_keys=False, allow_unicode=True))
