"""Datasets by name: where they live by default, how to list and read their categories.

``demo`` and ``demo-hard`` are generated on first use by :func:`prepare_root`;
the others must be downloaded by the user.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ssflow.datasets import btad, dagm, mvtec
from ssflow.datasets.demo import DEMO_HARD, DemoSettings, ensure_demo
from ssflow.datasets.listing import require_root
from ssflow.datasets.records import CategoryData
from ssflow.errors import UserInputError


@dataclass(frozen=True)
class _Dataset:
    title: str  # the name in error messages
    default_root: str  # relative to the current directory
    list_categories: Callable[[Path], list[str]]
    scan: Callable[[Path, str], CategoryData]
    generate: Callable[[Path], Path] | None = None  # generated datasets: make the data on first use


def _generated(settings: DemoSettings) -> _Dataset:
    """A generated demo variant: written in the BTAD layout, read back by the BTAD reader under its own name."""
    title = settings.name
    return _Dataset(
        title,
        f"data/{title}",
        lambda root: btad.list_btad_categories(root, title=title),
        lambda root, category: btad.scan_btad(root, category, title=title),
        generate=lambda root: ensure_demo(root, settings=settings),
    )


_REGISTRY: dict[str, _Dataset] = {
    "mvtec": _Dataset(mvtec.TITLE, "data/mvtec", mvtec.list_mvtec_categories, mvtec.scan_mvtec),
    "btad": _Dataset(btad.TITLE, "data/btad", btad.list_btad_categories, btad.scan_btad),
    "dagm": _Dataset(dagm.TITLE, "data/dagm", dagm.list_dagm_categories, dagm.scan_dagm),
    "demo": _generated(DemoSettings()),
    "demo-hard": _generated(DEMO_HARD),
}

DATASETS: tuple[str, ...] = tuple(_REGISTRY)


def _lookup(dataset: str) -> _Dataset:
    if dataset not in _REGISTRY:
        raise UserInputError(f"unknown dataset '{dataset}'; expected one of {', '.join(DATASETS)}")
    return _REGISTRY[dataset]


def _require_data(dataset: str, root: Path) -> _Dataset:
    entry = _lookup(dataset)
    if entry.generate is not None and not root.is_dir():
        raise UserInputError(
            f"{dataset} data not found at {root.absolute()}; it is generated there on first use by prepare_root"
        )
    require_root(root, entry.title)
    return entry


def default_root(dataset: str) -> Path:
    """Where ``dataset`` lives when no root is given: ``data/<dataset>`` under the current directory."""
    return Path(_lookup(dataset).default_root)


def prepare_root(dataset: str, root: Path) -> Path:
    """Make ``root`` ready to read: generate a generated dataset if needed, else check that it exists."""
    entry = _lookup(dataset)
    root = Path(root)
    if entry.generate is not None:
        return entry.generate(root)
    require_root(root, entry.title)
    return root


def list_categories(dataset: str, root: Path) -> list[str]:
    """The categories of ``dataset`` found under ``root``."""
    root = Path(root)
    return _require_data(dataset, root).list_categories(root)


def load_category(dataset: str, root: Path, category: str) -> CategoryData:
    """The records of one category of ``dataset`` under ``root``."""
    root = Path(root)
    data = _require_data(dataset, root).scan(root, category)
    # The demo variants are read by the BTAD reader; record which dataset it really is.
    return dataclasses.replace(data, dataset=dataset)
