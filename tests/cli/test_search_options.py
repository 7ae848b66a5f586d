"""The search command's flags as the sweep receives them."""

import argparse

import pytest

from cli import search_command
from spaces.space import load_space
from ssflow.config import config_from_flat


def _options(argv: list[str], resources: dict[str, float]):
    parser = argparse.ArgumentParser()
    search_command.add_arguments(parser)
    args = parser.parse_args(["--dataset", "demo", *argv])
    base = config_from_flat({"train.epochs": 7})
    return search_command.sweep_options(args, base, load_space("demo"), "t", resources)


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
