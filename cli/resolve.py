"""From command-line arguments to a validated :class:`SSFlowConfig`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import load_config_file, parse_override
from ssflow.errors import UserInputError
from ssflow.settings.exported import is_export_file, load_export_config
from ssflow.settings.flat_config import config_from_flat
from cli.setting_flags import FLAG_KEYS
from ssflow.settings.presets import PRESETS, preset



def base_config(config_arg: str | None, category: str | None) -> SSFlowConfig:
    """The preset or file named by ``--config`` (default preset when None)."""
    if not config_arg:
        return preset("default")
    if config_arg in PRESETS and not Path(config_arg).exists():
        return preset(config_arg)
    path = Path(config_arg)
    if path.is_dir():
        raise UserInputError(f"--config {config_arg}: a folder; expected a config YAML file (e.g. a trained "
                             f"model's config.yaml) or a preset ({', '.join(PRESETS)})")
    if not path.is_file():
        raise UserInputError(
            f"--config {config_arg}: no such file and not a preset (presets: {', '.join(PRESETS)})"
        )
    if is_export_file(path):
        return load_export_config(path, category)
    return load_config_file(path, preset("default"))


def resolve_config(args: argparse.Namespace) -> SSFlowConfig:
    """Preset or file, then shorthand flags, then ``--set key=value`` (last wins)."""
    base = base_config(getattr(args, "config", None), getattr(args, "category", None))
    flat: dict[str, Any] = {}
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag, None)
        if value is not None:
            flat[key] = value
    for text in getattr(args, "set", None) or []:
        key, value = parse_override(text)
        flat[key] = value
    return with_absolute_root(config_from_flat(flat, base))


def with_absolute_root(config: SSFlowConfig) -> SSFlowConfig:
    """``data.root`` made absolute (relative to the working directory), so the configs a sweep stores and
    exports, and the ``config.yaml`` of ``train``, work from any directory."""
    root = config.data.root
    if not root or "://" in root or Path(root).is_absolute():
        return config
    return dataclasses.replace(config, data=dataclasses.replace(config.data, root=str(Path(root).resolve())))
