"""The in-memory arrays one run trains and evaluates on.

A category is planned first (:func:`plan_splits`: folders and files read,
records split, no pixel read), then loaded once (:func:`prepare_data`): the
(few-shot) normal training images, the test set split into a *selection* part
(model selection, pruning) and a disjoint *report* part (the numbers a user
reads), and, when the selection objective uses one, a synthetic validation
set painted on held-out normal training images (:mod:`ssflow.validation_set`).
Every partition is seeded by ``data.split_seed``, apart from the training seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssflow.config import DataConfig, SSFlowConfig, ValidationConfig
from ssflow.datasets import default_root, load_category, prepare_root
from ssflow.datasets.images import load_split
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.datasets.splits import ensure_scorable, few_shot, hold_out, require_anomalies, split_test
from ssflow.errors import UserInputError
from ssflow.validation_set import painted_set

MIN_VALIDATION_IMAGES = 2  # held-out normal images a synthetic validation set needs at least


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
    held_out: int = 0  # normal training images scored instead (a category without normal test images)
    validation: SplitData | None = None  # synthetic validation set; None when the objective does not use one


@dataclass(frozen=True)
class SplitPlan:
    """The records of one run, chosen without reading a pixel."""

    dataset: str
    category: str
    train: tuple[ImageRecord, ...]  # the (few-shot) normal training images
    selection: tuple[ImageRecord, ...]
    report: tuple[ImageRecord, ...]
    held_out: int  # normal training images moved to the test set
    validation: tuple[ImageRecord, ...] = ()  # normal training images the synthetic validation set paints


def data_root(config: DataConfig) -> Path:
    """``config.root`` (or the dataset's default), made ready to read: generated if needed, else checked."""
    root = Path(config.root) if config.root else default_root(config.dataset)
    return prepare_root(config.dataset, root).resolve()


def _validation_records(train: tuple[ImageRecord, ...], config: SSFlowConfig, category: str
                        ) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """(kept for training, held out for the synthetic validation set) when the objective uses one."""
    if config.validation.synthetic_weight <= 0:
        return train, ()
    kept, held = hold_out(train, config.data.holdout_fraction, config.data.split_seed, purpose="validation")
    if len(held) < MIN_VALIDATION_IMAGES or not kept:
        raise UserInputError(
            f"category '{category}': {len(train)} normal training images are too few to hold out a synthetic "
            f"validation set (data.holdout_fraction {config.data.holdout_fraction}) and keep some for training; "
            "add images or use validation.synthetic_weight=0")
    return kept, held


def split_category(data: CategoryData, config: SSFlowConfig) -> SplitPlan:
    """Split a category's records as ``config`` says, every partition seeded by ``data.split_seed``.

    A test set without normal images gets a held-out share of the training
    images (:func:`~ssflow.datasets.splits.hold_out`); with a synthetic
    validation set (``validation.synthetic_weight > 0``) another share is held
    out for it; the test set is split into selection and report halves
    stratified by defect type, then both halves are made scorable
    (:func:`~ssflow.datasets.splits.ensure_scorable`).

    Raises:
        UserInputError: a category without anomalous test images whose
            objective needs real defects (``validation.synthetic_weight < 1``),
            halves that cannot both hold normal and anomalous images, or too
            few training images for ``data.shots`` or the validation set.
    """
    settings = config.data
    train, test, held = data.train, data.test, ()
    if not any(record.label == 0 for record in test):
        train, held = hold_out(train, settings.holdout_fraction, settings.split_seed)
        test = test + held
    train, validation = _validation_records(train, config, data.category)
    if not config.validation.label_free:
        require_anomalies(test, data.category)
    selection, report = split_test(test, settings.selection_fraction, settings.split_seed)
    if any(record.label == 1 for record in test):
        selection, report = ensure_scorable(selection, report, data.category)
    return SplitPlan(
        dataset=settings.dataset,
        category=data.category,
        train=few_shot(train, settings.shots, settings.split_seed),
        selection=selection,
        report=report,
        held_out=len(held),
        validation=validation,
    )


def _category(config: SSFlowConfig) -> CategoryData:
    return load_category(config.data.dataset, data_root(config.data), config.data.category)


def plan_splits(config: SSFlowConfig) -> SplitPlan:
    """The records ``config`` selects: :func:`split_category` of ``config.data.category``.

    Reads folders and list files only, so a sweep can call it for every
    category before it starts: a category that cannot be scored fails here in
    one line instead of in every trial.

    Raises:
        UserInputError: a missing root or category, a malformed layout, or
            anything :func:`split_category` refuses.
    """
    return split_category(_category(config), config)


def has_labelled_defects(config: SSFlowConfig) -> bool:
    """Whether ``config.data.category`` has any anomalous test image (reads the folder listing, no pixel).

    A category without one can only be tuned on synthetic validation anomalies
    (``validation.synthetic_weight = 1``).
    """
    return any(record.label == 1 for record in _category(config).test)


def _load(records: tuple[ImageRecord, ...], image_size: int, bit_depth: int) -> SplitData:
    images, masks, labels = load_split(records, image_size, bit_depth)
    known = np.array([record.label == 0 or record.mask_path is not None for record in records], dtype=bool)
    return SplitData(images, masks, labels, tuple(str(r.image_path) for r in records), known)


def _rows(split: SplitData, rows: slice) -> SplitData:
    return SplitData(split.images[rows], split.masks[rows], split.labels[rows], split.paths[rows],
                     split.mask_known[rows])


def _validation(records: tuple[ImageRecord, ...], size: int, bit_depth: int, config: ValidationConfig,
                seed: int) -> SplitData:
    normal = _load(records, size, bit_depth)
    images, masks, labels, names = painted_set(normal.images, normal.paths, config.synthetic_per_image, seed)
    return SplitData(images, masks, labels, names)


def prepare_data(config: SSFlowConfig) -> PreparedData:
    """Read the records of :func:`plan_splits` at ``config.backbone.image_size`` pixels.

    Raises ``UserInputError`` for a missing or malformed dataset, category,
    image or split.
    """
    plan = plan_splits(config)
    size, bits = config.backbone.image_size, config.data.bit_depth
    train = _load(plan.train, size, bits)
    # Both test halves in one read, so a problem with masks is reported for the whole test set at once.
    test = _load(plan.selection + plan.report, size, bits)
    selection, report = _rows(test, slice(0, len(plan.selection))), _rows(test, slice(len(plan.selection), None))
    validation = _validation(plan.validation, size, bits, config.validation, config.data.split_seed) \
        if plan.validation else None
    return PreparedData(
        dataset=config.data.dataset,
        category=config.data.category,
        train=train.images,
        train_paths=train.paths,
        selection=selection,
        report=report,
        held_out=plan.held_out,
        validation=validation,
    )
