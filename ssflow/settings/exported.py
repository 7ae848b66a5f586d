"""Best-config export files: one resolved config per category, with provenance.

Written by ``run_search.py export`` and read back by ``run_search.py train
--config best.yaml --category C`` into the same config dataclasses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import flatten_nested
from ssflow.errors import SettingError, UserInputError
from ssflow.settings.flat_config import config_from_flat
from ssflow.settings.yaml_files import read_yaml

EXPORT_FORMAT = "ssflow-export/1"


def is_export_file(path: Path) -> bool:
    try:
        content = read_yaml(path)
    except UserInputError:
        return False
    return isinstance(content, Mapping) and content.get("format") == EXPORT_FORMAT


def read_export(path: Path) -> dict[str, Any]:
    content = read_yaml(Path(path))
    if not isinstance(content, Mapping) or content.get("format") != EXPORT_FORMAT:
        raise UserInputError(f"{path}: not an export file (expected 'format: {EXPORT_FORMAT}')")
    if not isinstance(content.get("categories"), Mapping) or not content["categories"]:
        raise UserInputError(f"{path}: no categories in the export file")
    return dict(content)


def load_export_config(path: Path, category: str | None) -> SSFlowConfig:
    """The exported config of ``category`` (may be omitted when the file holds exactly one)."""
    categories = read_export(path)["categories"]
    if category is None:
        if len(categories) != 1:
            raise SettingError("data.category", None, f"{path} holds {len(categories)} categories "
                                                        f"({', '.join(categories)}); pick one with {{data.category}}")
        category = next(iter(categories))
    if category not in categories:
        raise UserInputError(f"{path}: no category '{category}'; it holds {', '.join(categories)}")
    entry = categories[category]
    return config_from_flat(flatten_nested(entry["config"], f"{path} [{category}]"))


def write_export(path: Path, header: Mapping[str, Any], categories: Mapping[str, Mapping[str, Any]]) -> None:
    """Write atomically (temporary sibling, then rename)."""
    content = {"format": EXPORT_FORMAT, **header, "categories": {k: dict(v) for k, v in categories.items()}}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    temporary.replace(path)
