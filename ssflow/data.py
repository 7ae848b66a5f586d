"""The in-memory arrays one run trains and evaluates on.

A category is planned first (:func:`plan_splits`: folders and files read,
records split, no pixel read), then loaded once (:func:`prepare_data`): the
(few-shot) normal training images, and the test set split into a *selection*
part (model selection, pruning) and a disjoint *report* part (the numbers a
user reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssflow.config import DataConfig
from ssflow.datasets import default_root, load_category, prepare_root
from ssflow.datasets.images import load_split
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.datasets.splits import ensure_scorable, few_shot, hold_out, require_anomalies, split_test


@dataclass(frozen=True)
class SplitData:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    masks: np.ndarray  # (N, S, S) bool
    labels: np.ndarray  # (N,) int, 1 = anomalous
    paths: tuple[str, ...]  # source image of each row
    # (N,) bool: the row's mask is pixel ground truth (normal images, anomalous
    # images with a mask file); None when built by hand: every row's is.
    mask_known: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        if self.mask_known is None:
            object.__setattr__(self, "mask_known", np.ones(len(self.labels), dtype=bool))

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
    held_out: int = 0  # normal training images scored instead (a category without normal test images)


@dataclass(frozen=True)
class SplitPlan:
    """The records of one run, chosen without reading a pixel."""

    dataset: str
    category: str
    train: tuple[ImageRecord, ...]  # the (few-shot) normal training images
    selection: tuple[ImageRecord, ...]
    report: tuple[ImageRecord, ...]
    held_out: int  # normal training images moved to the test set


def data_root(config: DataConfig) -> Path:
    """``config.root`` (or the dataset's default), made ready to read: generated if needed, else checked."""
    root = Path(config.root) if config.root else default_root(config.dataset)
    return prepare_root(config.dataset, root).resolve()


def split_category(data: CategoryData, config: DataConfig) -> SplitPlan:
    """Split a category's records as ``config`` says, every partition seeded by ``config.split_seed``.

    A test set without normal images gets a held-out share of the training
    images (:func:`~ssflow.datasets.splits.hold_out`); the test set is split
    into selection and report halves stratified by defect type, then both
    halves are made scorable (:func:`~ssflow.datasets.splits.ensure_scorable`).

    Raises:
        UserInputError: a category without anomalous test images, or whose
            halves cannot both hold normal and anomalous images, or too few
            training images for ``config.shots``.
    """
    train, test, held = data.train, data.test, ()
    if not any(record.label == 0 for record in test):
        train, held = hold_out(train, config.holdout_fraction, config.split_seed)
        test = test + held
    require_anomalies(test, data.category)
    selection, report = split_test(test, config.selection_fraction, config.split_seed)
    selection, report = ensure_scorable(selection, report, data.category)
    return SplitPlan(
        dataset=config.dataset,
        category=data.category,
        train=few_shot(train, config.shots, config.split_seed),
        selection=selection,
        report=report,
        held_out=len(held),
    )


def plan_splits(config: DataConfig) -> SplitPlan:
    """The records ``config`` selects: :func:`split_category` of ``config.category``.

    Reads folders and list files only, so a sweep can call it for every
    category before it starts: a category that cannot be scored fails here in
    one line instead of in every trial.

    Raises:
        UserInputError: a missing root or category, a malformed layout, or
            anything :func:`split_category` refuses.
    """
    category = load_category(config.dataset, data_root(config), config.category)
    return split_category(category, config)


def _load(records: tuple[ImageRecord, ...], image_size: int) -> SplitData:
    images, masks, labels = load_split(records, image_size)
    known = np.array([record.label == 0 or record.mask_path is not None for record in records], dtype=bool)
    return SplitData(images, masks, labels, tuple(str(r.image_path) for r in records), known)


def prepare_data(config: DataConfig, image_size: int) -> PreparedData:
    """Read the records of :func:`plan_splits` at ``image_size`` pixels."""
    plan = plan_splits(config)
    train = _load(plan.train, image_size)
    return PreparedData(
        dataset=config.dataset,
        category=config.category,
        train=train.images,
        train_paths=train.paths,
        selection=_load(plan.selection, image_size),
        report=_load(plan.report, image_size),
        held_out=plan.held_out,
    )
