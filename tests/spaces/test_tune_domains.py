"""Search spaces as Ray Tune domains: bounds, encoding, and a real OptunaSearch run."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spaces.space import ChoiceParam, FixedParam, FloatParam, IntParam, SearchSpace, load_space, shipped_spaces
from spaces.tune_domains import decode_params, to_tune_param_space
from ssflow.config import SSFlowConfig, config_from_flat

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


def sample_point(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    """One point drawn from the Tune domains, decoded to flat config values."""
    raw = {
        key: domain.sample(random_state=rng) if hasattr(domain, "sample") else domain
        for key, domain in to_tune_param_space(space).items()
    }
    return decode_params(space, raw)


def test_integer_bounds_are_inclusive_like_the_yaml() -> None:
    rng = np.random.default_rng(0)
    domains = to_tune_param_space(SPACE)
    for key, expected in [
        ("flow.coupling_blocks", {2, 3, 4}),
        ("synthesis.extra_patches", {0, 2, 4}),
        ("train.batch_size", {1, 2, 3}),
    ]:
        seen = {int(v) for v in domains[key].sample(size=400, random_state=rng)}
        assert seen == expected, key


def test_list_choices_are_encoded_as_strings_and_decoded_back() -> None:
    domains = to_tune_param_space(SPACE)
    assert domains["backbone.levels"].categories == ["2,3", "1,2,3"]
    assert domains["train.epochs"] == 3
    params = {
        "flow.coupling_blocks": np.int64(3), "synthesis.extra_patches": 2, "train.batch_size": 1,
        "train.lr": 1e-3, "backbone.levels": "1,2,3", "flow.block_pattern": "CA",
        "train.epochs": 3, "backbone.image_size": 64, "seed": 7,
    }
    decoded = decode_params(SPACE, params)
    assert decoded["backbone.levels"] == [1, 2, 3]
    assert type(decoded["flow.coupling_blocks"]) is int
    assert decoded["seed"] == 7  # keys outside the space pass through
    assert config_from_flat(decoded).backbone.levels == (1, 2, 3)
    with pytest.raises(ValueError, match="'backbone.levels': '4' is not one of"):
        decode_params(SPACE, {**params, "backbone.levels": "4"})
    with pytest.raises(KeyError, match="lack 'train.lr'"):
        decode_params(SPACE, {k: v for k, v in params.items() if k != "train.lr"})


@pytest.mark.parametrize("name", shipped_spaces())
def test_every_shipped_space_samples_valid_configs(name: str) -> None:
    space = load_space(name)
    rng = np.random.default_rng(1)
    for _ in range(20):
        point = sample_point(space, rng)
        config = config_from_flat(point)
        assert isinstance(config, SSFlowConfig)
        assert set(point) == {p.name for p in space.params}


def test_shipped_spaces_hold_their_promises() -> None:
    assert "train.epochs" not in {p.name for p in load_space("demo").params}
    paper = load_space("paper").fixed_values()
    assert paper["backbone.name"] == "cait_m48_448"
    assert paper["flow.block_pattern"] == "CA"
    assert paper["train.epochs"] == 100
    default = {p.name: p for p in load_space("default").params}
    assert default["flow.coupling_blocks"] == IntParam("flow.coupling_blocks", 2, 12)
    assert {"C", "CA"} <= set(default["flow.block_pattern"].choices)


def test_optuna_search_accepts_the_param_space(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    def trainable(config: dict[str, Any]) -> None:
        decoded = decode_params(SPACE, config)
        flat = config_from_flat(decoded)
        tune.report({"score": float(flat.flow.coupling_blocks), "levels": ",".join(map(str, flat.backbone.levels))})

    # Ray's socket paths must stay short: pytest's tmp_path is too long.
    ray_tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=ray_tmp, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            trainable,
            param_space=to_tune_param_space(SPACE),
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(metric="score", mode="max", seed=3), num_samples=3,
                trial_dirname_creator=lambda trial: trial.trial_id,
            ),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="t", verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert len(results) == 3
    assert not results.errors
    for result in results:
        assert result.config["train.epochs"] == 3  # constants reach the trial
        assert result.config["backbone.levels"] in ("2,3", "1,2,3")
        assert 2 <= result.metrics["score"] <= 4
        assert result.metrics["levels"] in ("2,3", "1,2,3")
