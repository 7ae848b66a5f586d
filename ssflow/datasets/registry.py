"""Datasets by name: where they live by default, how to list and read their categories.

The one list every command takes its ``--dataset`` choices from. ``demo``,
``demo-hard``, ``demo-hard-lighting`` and ``demo-hires`` are generated on first use by :func:`prepare_root`; the
benchmarks must be downloaded by the user; ``folder`` and ``manifest`` read
the user's own images and need ``--data-root``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ssflow.datasets import btad, dagm, folder, manifest, mvtec, mvtec_ad2, visa
from ssflow.datasets.demo import DEMO_HARD, DEMO_HARD_LIGHTING, DEMO_HIRES, DemoSettings, ensure_demo
from ssflow.datasets.listing import require_root
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.errors import SettingError, UserInputError


@dataclass(frozen=True)
class _Dataset:
    title: str  # the name in error messages
    default_root: str | None  # relative to the current directory; None: --data-root is required
    list_categories: Callable[[Path], list[str]]
    scan: Callable[[Path, str], CategoryData]
    generate: Callable[[Path], Path] | None = None  # generated datasets: make the data on first use
    # Raise when the root cannot be read; the default names the official download.
    check_root: Callable[[Path], None] | None = None
    needs: str = ""  # what --data-root must be, when it has no default

    def require(self, root: Path) -> None:
        if self.check_root is not None:
            self.check_root(root)
        else:
            require_root(root, self.title)


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
    "visa": _Dataset(visa.TITLE, "data/visa", visa.list_visa_categories, visa.scan_visa),
    "mvtec-ad2": _Dataset(mvtec_ad2.TITLE, "data/mvtec-ad2", mvtec_ad2.list_mvtec_ad2_categories,
                          mvtec_ad2.scan_mvtec_ad2),
    "folder": _Dataset(folder.TITLE, None, folder.list_folder_categories, folder.scan_folder,
                       check_root=folder.require_folder_root, needs=folder.NEEDS),
    "manifest": _Dataset(manifest.TITLE, None, manifest.list_manifest_categories, manifest.scan_manifest,
                         check_root=manifest.require_manifest, needs=manifest.NEEDS),
    "demo": _generated(DemoSettings()),
    "demo-hard": _generated(DEMO_HARD),
    "demo-hard-lighting": _generated(DEMO_HARD_LIGHTING),
    "demo-hires": _generated(DEMO_HIRES),
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
    entry.require(root)
    return entry


def default_root(dataset: str) -> Path:
    """Where ``dataset`` lives when no root is given: ``data/<dataset>`` under the current directory.

    Raises:
        UserInputError: for ``folder`` and ``manifest``, which have no default.
    """
    entry = _lookup(dataset)
    if entry.default_root is None:
        raise SettingError("data.root", None, f"dataset {dataset} has no default location; give {{data.root}}: "
                                              f"{entry.needs}")
    return Path(entry.default_root)


def prepare_root(dataset: str, root: Path) -> Path:
    """Make ``root`` ready to read: generate a generated dataset if needed, else check that it exists."""
    entry = _lookup(dataset)
    root = Path(root)
    if entry.generate is not None:
        return entry.generate(root)
    entry.require(root)
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


def load_shifted_test(dataset: str, root: Path, category: str) -> tuple[ImageRecord, ...]:
    """The test records of ``category`` in a second root laid out as ``dataset`` (the same scenes or parts
    photographed under changed lighting, say): its shifted test split where its layout has one (MVTec AD 2's
    mixed-lighting split), else its test split. Its training images are not used.

    A generated dataset's default root (``data/demo-hard-lighting``) is generated on first use.

    Raises:
        UserInputError: ``root`` is missing or not in ``dataset``'s layout, lacks ``category``, or its test
            images are not both normal and anomalous; the message names ``root``.
    """
    root = Path(root)
    for entry in _REGISTRY.values():
        if entry.generate is not None and not root.exists() and root.absolute() == Path(entry.default_root).absolute():
            entry.generate(root)
    entry = _lookup(dataset)
    try:
        if not root.is_dir() and entry.check_root is None:
            raise UserInputError(f"{root} is not a folder")
        entry.require(root)
        data = entry.scan(root, category)
    except UserInputError as error:
        raise UserInputError(f"shifted test set {root}: expected the {entry.title} layout of the data root, with "
                             f"category '{category}' and its training folder (one image is enough: it is not used, "
                             f"the layout needs it): {error}") from None
    records = data.shifted_test or data.test
    if not any(record.label == 0 for record in records) or not any(record.label == 1 for record in records):
        raise UserInputError(f"shifted test set {root}/{category}: expected normal and anomalous test images, "
                             f"found {sum(r.label == 0 for r in records)} normal and "
                             f"{sum(r.label == 1 for r in records)} anomalous")
    return records
