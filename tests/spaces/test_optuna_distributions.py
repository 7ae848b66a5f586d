"""Search spaces as Optuna distributions: bounds, encoding, and real sampling from a study."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest

from spaces.optuna_distributions import decode_params, distributions, params_from_values
from spaces.space import ChoiceParam, FixedParam, FloatParam, IntParam, SearchSpace, load_space, shipped_spaces
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.flat_config import config_from_flat, config_to_flat

SPACE = SearchSpace(
    name="t",
    description="",
    params=(
        IntParam("flow.coupling_blocks", 2, 4),
        IntParam("synthesis.extra_patches", 0, 4, step=2),
        IntParam("train.batch_size", 1, 3, log=True),
        FloatParam("train.lr", 1e-4, 1e-2, log=True),
        ChoiceParam("backbone.levels", ((2, 3), (1, 2, 3))),
        ChoiceParam("flow.block_pattern", ("C", "CA")),
        FixedParam("train.epochs", 3),
        FixedParam("backbone.image_size", 64),
    ),
)


def sampled(space: SearchSpace, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` points from a real Optuna study over the space, decoded to flat config values."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    points = []
    for _ in range(count):
        trial = study.ask(distributions(space))
        points.append({**space.fixed_values(), **decode_params(space, trial.params)})
        study.tell(trial, 0.0)
    return points


def test_integer_bounds_are_inclusive_like_the_yaml() -> None:
    points = sampled(SPACE, 300)
    for key, expected in [("flow.coupling_blocks", {2, 3, 4}), ("synthesis.extra_patches", {0, 2, 4}),
                          ("train.batch_size", {1, 2, 3})]:
        assert {point[key] for point in points} == expected, key
    assert all(1e-4 <= point["train.lr"] <= 1e-2 for point in points)


def test_only_searched_parameters_become_distributions() -> None:
    assert list(distributions(SPACE)) == [
        "flow.coupling_blocks", "synthesis.extra_patches", "train.batch_size", "train.lr", "backbone.levels",
        "flow.block_pattern"]


def test_list_choices_are_encoded_as_strings_and_decoded_back() -> None:
    assert distributions(SPACE)["backbone.levels"].choices == ("2,3", "1,2,3")
    params = {"flow.coupling_blocks": np.int64(3), "backbone.levels": "1,2,3", "flow.block_pattern": "CA",
              "train.lr": 1e-3, "seed": 7}
    decoded = decode_params(SPACE, params)
    assert decoded["backbone.levels"] == [1, 2, 3]
    assert type(decoded["flow.coupling_blocks"]) is int
    assert decoded["seed"] == 7  # keys outside the space pass through
    assert config_from_flat(decoded).backbone.levels == (1, 2, 3)
    with pytest.raises(ValueError, match="'backbone.levels': '4' is not one of"):
        decode_params(SPACE, {**params, "backbone.levels": "4"})


def test_a_config_becomes_parameters_that_optuna_keeps() -> None:
    values = config_to_flat(config_from_flat({"flow.coupling_blocks": 3, "backbone.levels": [1, 2, 3],
                                              "flow.block_pattern": "CCA", "train.lr": 0.5}))
    params = params_from_values(SPACE, values)
    assert params["backbone.levels"] == "1,2,3" and params["flow.coupling_blocks"] == 3
    assert "flow.block_pattern" not in params  # not a choice of the space: left to the sampler
    assert params["train.lr"] == 0.5  # outside the range: kept, Optuna records it as given
    study = optuna.create_study()
    study.enqueue_trial(params)
    trial = study.ask(distributions(SPACE))
    assert trial.params["flow.coupling_blocks"] == 3 and trial.params["backbone.levels"] == "1,2,3"


@pytest.mark.parametrize("name", shipped_spaces())
def test_every_shipped_space_samples_valid_configs(name: str) -> None:
    space = load_space(name)
    for point in sampled(space, 20, seed=1):
        assert isinstance(config_from_flat(point), SSFlowConfig)
        assert set(point) == {p.name for p in space.params}


def test_shipped_spaces_hold_their_promises() -> None:
    assert "train.epochs" not in {p.name for p in load_space("demo").params}
    paper = load_space("paper").fixed_values()
    assert paper["backbone.name"] == "cait_m48_448"
    assert paper["flow.block_pattern"] == "CA"
    assert paper["train.epochs"] == 100
