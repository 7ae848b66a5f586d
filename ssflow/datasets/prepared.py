"""The in-memory arrays one run trains and evaluates on.

A category is planned first (:func:`plan_splits`: folders and files read,
records split, no pixel read), then loaded once (:func:`prepare_data`): the
(few-shot) normal training images, the test set split into a *selection* part
(model selection, pruning) and a disjoint *report* part (the numbers a user
reads), and, when the selection objective uses one, a synthetic validation
set painted on held-out normal training images (:mod:`ssflow.datasets.validation_set`).
Every partition is seeded by ``data.split_seed``, apart from the training seed.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssflow.settings.config import DataConfig, SSFlowConfig, ValidationConfig
from ssflow.datasets import default_root, load_category, prepare_root
from ssflow_runtime.model_inputs import InputSettings
from ssflow.datasets.model_inputs import load_inputs, stacked
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.datasets.splits import ensure_scorable, few_shot, hold_out, require_anomalies, split_test
from ssflow.errors import UserInputError
from ssflow_runtime.tiling import TileLayout, tile_offsets
from ssflow.datasets.validation_set import painted_set

MIN_VALIDATION_IMAGES = 2  # held-out normal images a synthetic validation set needs at least


@dataclass(frozen=True)
class SplitData:
    """The images of one split as model inputs, with their labels and masks.

    With ``layouts`` (read from files), image i is the tiles
    ``images[offsets[i]:offsets[i + 1]]`` (:attr:`offsets`) and its mask is at the
    metric resolution (:mod:`ssflow.datasets.model_inputs`). Built by hand
    (``layouts`` None), every row of ``images`` is one whole image and its mask
    has the input's size.
    """

    images: np.ndarray  # (T, S, S, 3) uint8 RGB model inputs: T = N without layouts
    masks: np.ndarray | tuple[np.ndarray, ...]  # bool per image: (N, H, W), or N arrays of their own sizes
    labels: np.ndarray  # (N,) int, 1 = anomalous
    paths: tuple[str, ...]  # source image of each row
    # (N,) bool: the row's mask is pixel ground truth (normal images, anomalous
    # images with a mask file); None when built by hand: every row's is.
    mask_known: np.ndarray | None = field(default=None)
    layouts: tuple[TileLayout, ...] | None = None  # how each image was cut into ``images``

    def __post_init__(self) -> None:
        if self.mask_known is None:
            object.__setattr__(self, "mask_known", np.ones(len(self.labels), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def offsets(self) -> np.ndarray:
        """(N + 1,) int64: image i's rows of ``images`` are ``offsets[i]:offsets[i + 1]``."""
        if self.layouts is None:
            return np.arange(len(self.labels) + 1, dtype=np.int64)
        return tile_offsets(self.layouts)

    def rows(self, images: slice) -> "SplitData":
        """The split of the images ``images`` (a slice over images, not tiles)."""
        start, stop, _ = images.indices(len(self))
        offsets = self.offsets
        masks = self.masks[images] if isinstance(self.masks, np.ndarray) else stacked(self.masks[images])
        layouts = None if self.layouts is None else self.layouts[images]
        return SplitData(self.images[offsets[start]:offsets[stop]], masks, self.labels[images], self.paths[images],
                         self.mask_known[images], layouts)

    @property
    def scorable(self) -> bool:
        """Whether the split holds normal and anomalous images, so AUROCs exist."""
        return bool((self.labels == 0).any() and (self.labels == 1).any())


@dataclass(frozen=True)
class PreparedData:
    dataset: str
    category: str
    train: np.ndarray  # (T, S, S, 3) uint8 model inputs of the normal training images (tiles in tiled mode)
    train_paths: tuple[str, ...]  # (T,) the image of each row, with #tile-<k> in tiled mode
    selection: SplitData
    report: SplitData
    held_out: int = 0  # normal training images scored instead (a category without normal test images)
    validation: SplitData | None = None  # synthetic validation set; None when the objective does not use one
    squashed: int = 0  # non-square images resized to a square (whole-image mode without data.keep_aspect)
    train_images: int = 0  # normal training images the rows of ``train`` come from (tiles: fewer than rows)


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


def tuned_label_free(config: SSFlowConfig, synthetic_objective: bool = False) -> SSFlowConfig:
    """``config`` as it must be selected and calibrated: on synthetic validation anomalies only
    (``validation.synthetic_weight = 1``) when ``synthetic_objective`` asks for it or when its category has
    no anomalous test image (reads the folder listing, no pixel); else ``config`` itself.

    The one rule of ``train`` and the sweep (``--objective synthetic``).
    """
    if synthetic_objective or not has_labelled_defects(config):
        return dataclasses.replace(config, validation=dataclasses.replace(config.validation, synthetic_weight=1.0))
    return config


def input_settings(config: SSFlowConfig) -> InputSettings:
    """How ``config`` turns images into model inputs (size, tiling, scale, aspect, bit depth)."""
    data = config.data
    return InputSettings(config.backbone.image_size, data.tile_size, data.tile_overlap, data.scale,
                         data.keep_aspect, data.bit_depth)


def _load(records: tuple[ImageRecord, ...], settings: InputSettings) -> SplitData:
    loaded = load_inputs(records, settings)
    known = np.array([record.label == 0 or record.mask_path is not None for record in records], dtype=bool)
    return SplitData(loaded.tiles, loaded.masks, loaded.labels, tuple(str(r.image_path) for r in records), known,
                     loaded.layouts)


def read_split(records: tuple[ImageRecord, ...], config: SSFlowConfig) -> SplitData:
    """The images of ``records`` as model inputs of ``config`` (size, tiles, scale, aspect, bit depth), with their
    labels and masks at one metric resolution. Raises ``UserInputError`` for an unreadable image or mask."""
    return _load(records, input_settings(config))


def tile_names(split: SplitData) -> tuple[str, ...]:
    """A name per row of ``split.images``: the image's path, with ``#tile-<k>`` where an image has several."""
    names = []
    for path, layout in zip(split.paths, split.layouts or [None] * len(split)):
        count = 1 if layout is None else layout.tile_count
        names.extend([path] if count == 1 else [f"{path}#tile-{k}" for k in range(count)])
    return tuple(names)


def _validation(records: tuple[ImageRecord, ...], settings: InputSettings, config: ValidationConfig,
                seed: int) -> SplitData:
    """Painted on the held-out images' model inputs: in tiled mode every tile is a validation image of its own."""
    normal = _load(records, settings)
    images, masks, labels, names = painted_set(normal.images, tile_names(normal), config.synthetic_per_image, seed)
    return SplitData(images, masks, labels, names)


def prepare_data(config: SSFlowConfig) -> PreparedData:
    """Read the records of :func:`plan_splits` as model inputs of ``config.backbone.image_size`` pixels.

    Training images become rows of ``train`` (every tile of every image in tiled
    mode: the flow learns from tiles, and synthesis works per tile); test images
    keep their layouts so their maps are stitched whole (:class:`SplitData`).

    Raises ``UserInputError`` for a missing or malformed dataset, category,
    image or split.
    """
    plan = plan_splits(config)
    settings = input_settings(config)
    train = _load(plan.train, settings)
    # Both test halves in one read, so a problem with masks is reported for the whole test set at once
    # and both get one metric resolution.
    test = _load(plan.selection + plan.report, settings)
    selection, report = test.rows(slice(0, len(plan.selection))), test.rows(slice(len(plan.selection), None))
    validation = _validation(plan.validation, settings, config.validation, config.data.split_seed) \
        if plan.validation else None
    return PreparedData(
        dataset=config.data.dataset,
        category=config.data.category,
        train=train.images,
        train_paths=tile_names(train),
        selection=selection,
        report=report,
        held_out=plan.held_out,
        validation=validation,
        squashed=sum(map(_squashed, (train.layouts or ()) + (test.layouts or ()))),
        train_images=len(train),
    )


def _squashed(layout: TileLayout) -> bool:
    """Whether one input covers a non-square image without padding: its aspect ratio is lost."""
    _, _, height, width = layout.tiles[0]
    return layout.tile_count == 1 and height != width
