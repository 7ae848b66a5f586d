"""The search command's flags as the sweep receives them."""

import argparse

import pytest

from cli import search_arguments, search_command
from cli.main import main
from ssflow.model import backbone_weights as backbone_module
from spaces.space import load_space
from ssflow.settings.flat_config import config_from_flat


def _options(argv: list[str], resources: dict[str, float], space=None):
    parser = argparse.ArgumentParser()
    search_arguments.add_arguments(parser)
    args = parser.parse_args(["--dataset", "demo", *argv])
    base = config_from_flat({"train.epochs": 7})
    return search_command.sweep_options(args, base, space or load_space("demo"), "t", resources)


def test_defaults_follow_the_cluster_and_the_base_config():
    laptop = _options([], {"CPU": 2.0})
    assert (laptop.concurrency, laptop.gpus_per_trial, laptop.max_epochs) == (2, 0.0, 7)
    assert (laptop.grace_period, laptop.max_failures) == (1, 2)
    gpu_node = _options(["--cpus-per-trial", "4"], {"CPU": 16.0, "GPU": 1.0})
    assert (gpu_node.concurrency, gpu_node.gpus_per_trial) == (4, 1.0)


@pytest.mark.parametrize("argv, field, value", [
    (["--max-failures", "0"], "max_failures", 0),
    (["--max-epochs", "20"], "max_epochs", 20),
    (["--grace-period", "3"], "grace_period", 3),
    (["--reduction-factor", "4"], "reduction_factor", 4),
    (["--concurrency", "1"], "concurrency", 1),
    (["--gpus-per-trial", "0.25"], "gpus_per_trial", 0.25),
    (["--feature-cache", "off"], "feature_cache", ""),
])
def test_flags_reach_the_sweep(argv, field, value):
    assert getattr(_options(argv, {"CPU": 2.0, "GPU": 1.0}), field) == value


def test_a_space_that_fixes_train_epochs_sets_the_default_budget(tmp_path):
    space = tmp_path / "long.yaml"
    space.write_text("parameters:\n  train.epochs: 30\n  train.lr: {type: float, low: 1.0e-4, high: 1.0e-2}\n")
    assert _options(["--space", str(space)], {"CPU": 2.0}, load_space(str(space))).max_epochs == 30
    assert _options(["--space", str(space), "--max-epochs", "5"], {"CPU": 2.0}, load_space(str(space))).max_epochs == 5


@pytest.mark.parametrize("parameter, words", [
    ("train.epochs: {type: int, low: 1, high: 5}", "train.epochs cannot be searched: it is set for every trial by "
                                                   "--max-epochs"),
    ("backbone.image_size: {type: int, low: 64, high: 128, step: 32}", "backbone.image_size must be searched as "
                                                                        "type: choice"),
    ("data.tile_size: {type: int, low: 64, high: 128}", "data.tile_size must be searched as type: choice"),
    ("data.bit_depth: {type: choice, choices: [10, 12]}", "data.bit_depth can only be fixed"),
])
def test_a_space_searching_what_trials_cannot_vary_is_refused_in_one_line(tmp_path, capsys, parameter, words):
    space = tmp_path / "wrong.yaml"
    space.write_text(f"parameters:\n  {parameter}\n")
    assert main(["--dataset", "demo", "--space", str(space), "--storage", str(tmp_path / "runs"),
                 "--name", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err, err
    assert not (tmp_path / "runs" / "optuna.db").exists()  # refused before anything was written


def test_a_space_asking_for_a_level_a_backbone_lacks_is_refused_in_one_line(tmp_path, capsys):
    space = tmp_path / "levels.yaml"
    space.write_text("parameters:\n  backbone.name: {type: choice, choices: [tf_efficientnet_lite0, "
                     "tf_efficientnet_lite2]}\n  backbone.levels: {type: choice, choices: [[2, 3], [3, 5]]}\n")
    assert main(["--dataset", "demo", "--space", str(space), "--storage", str(tmp_path / "runs"),
                 "--name", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "backbone 'tf_efficientnet_lite0' levels [3, 5]" in err
    assert "4 (320 ch, stride 32)" in err  # the backbone's levels, named
    assert not (tmp_path / "runs" / "optuna.db").exists()


@pytest.mark.parametrize("content, words", [
    ("parameters:\n  backbone.name: wide_resnet50_2\n", "backbone.name wide_resnet50_2: pretrained weights could not"),
    ("parameters:\n  backbone.name: wide_resnet50_2\n  backbone.weights: /no/such/wrn50.pth\n",
     "backbone.weights /no/such/wrn50.pth: file not found"),
])
def test_a_backbone_no_trial_could_load_is_refused_before_the_sweep(tmp_path, capsys, content, words):
    if "could not" in words and backbone_module._hub_reachable():
        pytest.skip("the model hub is reachable here")
    space = tmp_path / "hub.yaml"
    space.write_text(content)
    assert main(["--dataset", "demo", "--space", str(space), "--storage", str(tmp_path / "runs"),
                 "--name", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err, err  # a sweep sets the weights by config key (space or --set)
    assert not (tmp_path / "runs" / "optuna.db").exists()
