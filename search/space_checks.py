"""What a sweep's space may search, checked before anything is written, and the data variants it implies.

A category's trials share its images, splits and seeds, so the keys that shape
them can only be fixed (:data:`SHARED_DATA_KEYS`); the keys that turn images into
model inputs (:data:`INPUT_KEYS`) may be searched as choices, each combination a
data variant read once by the driver (:func:`input_variants`).
"""

from __future__ import annotations

import itertools
from typing import Any

from search.options import SweepOptions
from search.trainable import variant_key
from spaces.optuna_distributions import encode_choice
from spaces.space import ChoiceParam, FixedParam
from ssflow.model.backbone import check_levels
from ssflow.model.backbone_weights import check_weights_available
from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat

# Every trial of a category shares one copy of its images and splits, so these cannot vary per trial;
# ``seed`` varies only through finalist runs.
SHARED_DATA_KEYS = ("data.shots", "data.selection_fraction", "data.dataset",
                    "data.category", "data.root", "data.split_seed", "data.holdout_fraction", "data.bit_depth",
                    "validation.synthetic_weight", "validation.synthetic_per_image", "seed")
# How images become model inputs. A space may search these as choices: the driver reads a category once
# per combination of their values (a data variant), and the trials of one variant share its images,
# features and synthetic bank.
INPUT_KEYS = ("backbone.image_size", "data.tile_size", "data.tile_overlap", "data.scale", "data.keep_aspect")
# Set for every trial from the sweep's flags (a space may fix its default, not search it).
SET_BY_FLAGS = {"train.epochs": "--max-epochs (ASHA then stops weak trials early; --grace-period sets the first stop)"}


def check_space(options: SweepOptions) -> None:
    """Refuse a space that searches a key every trial of a category must share, or one a flag sets, an input key
    as a range, or a level a backbone lacks."""
    searched = [parameter.name for parameter in options.space.searched()]
    for name in searched:
        if name in SET_BY_FLAGS:
            raise UserInputError(f"space {options.space.name}: {name} cannot be searched: it is set for every trial "
                                 f"by {SET_BY_FLAGS[name]}")
    varied = [name for name in searched if name in SHARED_DATA_KEYS]
    if varied:
        raise UserInputError(f"space {options.space.name}: {', '.join(varied)} can only be fixed, not searched "
                             "(every trial of a category shares its images and splits; finalists vary the seed)")
    ranged = [p.name for p in options.space.searched() if p.name in INPUT_KEYS and not isinstance(p, ChoiceParam)]
    if ranged:
        raise UserInputError(f"space {options.space.name}: {', '.join(ranged)} must be searched as type: choice "
                             "(each value is a read of the images on the driver, shared by the trials that use it)")
    check_backbone_levels(options)
    check_backbone_weights(options)


def check_backbone_weights(options: SweepOptions) -> None:
    """Refuse, before any trial, a backbone whose weights no trial could load (a missing file or package,
    hub weights offline): otherwise every trial would fail the same way, each after its retries."""
    params = {p.name: p for p in options.space.params}
    weights = _values(params.get("backbone.weights"), options.base.backbone.weights)
    for name in _values(params.get("backbone.name"), options.base.backbone.name):
        for path in weights:
            try:
                check_weights_available(name, path)
            except UserInputError as error:
                raise UserInputError(f"space {options.space.name}: {error}") from None


def check_backbone_levels(options: SweepOptions) -> None:
    """Refuse a space whose backbone and level choices meet where a backbone lacks a level (one line)."""
    params = {p.name: p for p in options.space.params}
    names = _values(params.get("backbone.name"), options.base.backbone.name)
    level_sets = _values(params.get("backbone.levels"), options.base.backbone.levels)
    if len(names) == 1 and len(level_sets) == 1 and "backbone.name" not in params and "backbone.levels" not in params:
        return  # the base config's own backbone: checked when it is built
    for name in names:
        for levels in level_sets:
            try:
                check_levels(name, levels)
            except UserInputError as error:
                raise UserInputError(f"space {options.space.name}: {error}") from None


def _values(param: Any, default: Any) -> list[Any]:
    """The values a space gives a key: its choices, its fixed value, or the base config's."""
    if isinstance(param, ChoiceParam):
        return list(param.choices)
    if isinstance(param, FixedParam):
        return [param.value]
    return [default]


def portfolio_notes(options: SweepOptions) -> list[str]:
    """What of ``options.portfolio`` the space changes, for people: per config, values that are not among a
    choice's options (the base config's value is used instead), values outside a range (tried as given), and
    how many of its keys the space does not search (those keep the base config's values)."""
    searched = {param.name: param for param in options.space.searched()}
    notes = []
    for number, values in enumerate(options.portfolio, start=1):
        replaced, outside = [], []
        for key, value in values.items():
            param = searched.get(key)
            if isinstance(param, ChoiceParam):
                if encode_choice(value) not in [encode_choice(choice) for choice in param.choices]:
                    replaced.append(f"{key}={value}")
            elif param is not None and not param.low <= value <= param.high:
                outside.append(f"{key}={value}")
        unsearched = sorted(key for key in values if key not in searched)
        parts = []
        if replaced:
            parts.append(f"{', '.join(replaced)} not among the space's choices (the base config's value is used)")
        if outside:
            parts.append(f"{', '.join(outside)} outside the space's range (tried as given)")
        if unsearched:
            many = len(unsearched) != 1
            parts.append(f"{len(unsearched)} key{'s' if many else ''} the space does not search "
                         f"keep{'' if many else 's'} the base config's value{'s' if many else ''} "
                         f"(e.g. {unsearched[0]})")
        if parts:
            notes.append(f"config {number}: {'; '.join(parts)}")
    return notes


def input_variants(options: SweepOptions, base: SSFlowConfig) -> list[SSFlowConfig]:
    """``base`` with every combination of the space's choices for :data:`INPUT_KEYS`; the base's own first."""
    choices = [(p.name, p.choices) for p in options.space.searched() if p.name in INPUT_KEYS]
    configs = {variant_key(base): base}
    for values in itertools.product(*(values for _, values in choices)):
        config = config_from_flat(dict(zip((name for name, _ in choices), values)), base)
        configs.setdefault(variant_key(config), config)
    return list(configs.values())
