"""The in-memory arrays one run trains and evaluates on.

Loads a category once: the (few-shot) normal training images, the test set
split into a *selection* part (model selection, pruning) and a disjoint
*report* part (the numbers a user reads), and, when the selection objective
uses it, a synthetic validation set painted on held-out normal training images
(:mod:`ssflow.validation_set`). Every partition is seeded by ``data.split_seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssflow.config import SSFlowConfig, ValidationConfig
from ssflow.datasets import default_root, load_category, prepare_root
from ssflow.datasets.images import load_split
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.datasets.splits import few_shot, hold_out, split_test
from ssflow.validation_set import painted_set


@dataclass(frozen=True)
class SplitData:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    masks: np.ndarray  # (N, S, S) bool
    labels: np.ndarray  # (N,) int, 1 = anomalous
    paths: tuple[str, ...]  # source image of each row

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def scorable(self) -> bool:
        """Whether the split holds normal and anomalous images, so AUROCs exist."""
        return bool((self.labels == 0).any() and (self.labels == 1).any())


@dataclass(frozen=True)
class PreparedData:
    dataset: str
    category: str
    train: np.ndarray  # (N, S, S, 3) uint8 normal training images
    train_paths: tuple[str, ...]
    selection: SplitData
    report: SplitData
    validation: SplitData | None = None  # synthetic validation set; None when the objective does not use one


def _load(records: tuple[ImageRecord, ...], image_size: int) -> SplitData:
    images, masks, labels = load_split(records, image_size)
    return SplitData(images, masks, labels, tuple(str(r.image_path) for r in records))


def _category(config: SSFlowConfig) -> CategoryData:
    data = config.data
    root = prepare_root(data.dataset, Path(data.root) if data.root else default_root(data.dataset)).resolve()
    return load_category(data.dataset, root, data.category)


def has_labelled_defects(config: SSFlowConfig) -> bool:
    """Whether ``config.data.category`` has any anomalous test image (reads the folder listing, no pixel).

    A category without one can only be tuned on synthetic validation anomalies
    (``validation.synthetic_weight = 1``).
    """
    return any(record.label == 1 for record in _category(config).test)


def prepare_data(config: SSFlowConfig) -> PreparedData:
    """Read ``config.data.category`` at ``config.backbone.image_size`` pixels, partitioned by ``data.split_seed``.

    With ``validation.synthetic_weight > 0`` a share ``data.holdout_fraction``
    of the normal training images is held out (before any few-shot choice) and
    becomes the synthetic validation set. Raises ``UserInputError`` for a
    missing or malformed dataset, category or split.
    """
    data, size = config.data, config.backbone.image_size
    category = _category(config)
    train_pool, held_out = category.train, ()
    if config.validation.synthetic_weight > 0:
        train_pool, held_out = hold_out(category.train, data.holdout_fraction, data.split_seed)
    train_records = few_shot(train_pool, data.shots, data.split_seed)
    selection, report = split_test(category.test, data.selection_fraction, data.split_seed)
    train = _load(train_records, size)
    return PreparedData(
        dataset=data.dataset,
        category=data.category,
        train=train.images,
        train_paths=train.paths,
        selection=_load(selection, size),
        report=_load(report, size),
        validation=_validation(held_out, size, config.validation, data.split_seed) if held_out else None,
    )


def _validation(records: tuple[ImageRecord, ...], size: int, config: ValidationConfig, seed: int) -> SplitData:
    normal = _load(records, size)
    images, masks, labels, names = painted_set(normal.images, normal.paths, config.synthetic_per_image, seed)
    return SplitData(images, masks, labels, names)
