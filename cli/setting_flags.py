"""Which flag of a command sets which setting: how the command line names a :class:`ssflow.errors.SettingError`."""

from __future__ import annotations

import argparse

# Flags (by argparse destination) that are shorthands for config keys.
FLAG_KEYS = {
    "dataset": "data.dataset",
    "category": "data.category",
    "data_root": "data.root",
    "shots": "data.shots",
    "backbone": "backbone.name",
    "backbone_weights": "backbone.weights",
    "image_size": "backbone.image_size",
    "epochs": "train.epochs",
    "seed": "seed",
}
# Flags that set a run argument of another name.
ARGUMENT_FLAGS = {"set": "overrides"}


def setting_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Setting name (config key or argument) -> the flag of ``parser`` that sets it (``data.root`` -> ``--data-root``)."""
    names = {**FLAG_KEYS, **ARGUMENT_FLAGS}
    return {names.get(action.dest, action.dest): action.option_strings[0]
            for action in parser._actions if action.option_strings and action.dest != "help"}
