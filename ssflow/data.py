"""The in-memory arrays one run trains and evaluates on.

Loads a category once: the (few-shot) normal training images, and the test
set split into a *selection* part (model selection, pruning) and a disjoint
*report* part (the numbers a user reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssflow.config import DataConfig
from ssflow.datasets import default_root, load_category, prepare_root
from ssflow.datasets.images import load_split
from ssflow.datasets.records import ImageRecord
from ssflow.datasets.splits import few_shot, split_test


@dataclass(frozen=True)
class SplitData:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    masks: np.ndarray  # (N, S, S) bool
    labels: np.ndarray  # (N,) int, 1 = anomalous
    paths: tuple[str, ...]  # source image of each row

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class PreparedData:
    dataset: str
    category: str
    train: np.ndarray  # (N, S, S, 3) uint8 normal training images
    train_paths: tuple[str, ...]
    selection: SplitData
    report: SplitData


def _load(records: tuple[ImageRecord, ...], image_size: int) -> SplitData:
    images, masks, labels = load_split(records, image_size)
    return SplitData(images, masks, labels, tuple(str(r.image_path) for r in records))


def prepare_data(config: DataConfig, image_size: int) -> PreparedData:
    """Read ``config.category`` of ``config.dataset`` at ``image_size`` pixels, split by ``config.split_seed``."""
    root = prepare_root(config.dataset, Path(config.root) if config.root else default_root(config.dataset)).resolve()
    category = load_category(config.dataset, root, config.category)
    train_records = few_shot(category.train, config.shots, config.split_seed)
    selection, report = split_test(category.test, config.selection_fraction, config.split_seed)
    train = _load(train_records, image_size)
    return PreparedData(
        dataset=config.dataset,
        category=config.category,
        train=train.images,
        train_paths=train.paths,
        selection=_load(selection, image_size),
        report=_load(report, image_size),
    )
