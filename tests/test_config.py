import pytest

from results.objective_source import chosen_on
from ssflow.settings.config import SSFlowConfig
from ssflow.settings.config_files import load_config_file, parse_override, save_config_file
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat, config_to_flat
from ssflow.settings.presets import preset


def test_flat_round_trip_and_file_round_trip(tmp_path):
    config = config_from_flat({"flow.coupling_blocks": 6, "backbone.levels": [1, 2, 3], "train.lr": 3e-4,
                               "loss.kind": "hinge", "seed": 7})
    assert config_from_flat(config_to_flat(config)) == config
    save_config_file(config, tmp_path / "c.yaml")
    assert load_config_file(tmp_path / "c.yaml") == config


@pytest.mark.parametrize("key, value, words", [
    ("flow.bogus", 1, "unknown config key 'flow.bogus'"),
    ("flow.coupling_blocks", 0, "flow.coupling_blocks"),
    ("flow.coupling_blocks", 2.5, "an integer"),
    ("flow.block_pattern", "CX", "C (conv) and A (attention)"),
    ("loss.kind", "focal", "constrained, hinge, pixel_hinge"),
    ("train.lr", "fast", "a number"),
    ("backbone.image_size", 250, "multiple of 32"),
])
def test_bad_values_name_key_and_expectation(key, value, words):
    with pytest.raises(UserInputError, match=None) as error:
        config_from_flat({key: value})
    assert words in str(error.value)
    assert "\n" not in str(error.value)


def test_overrides_parse_yaml_values():
    assert parse_override("train.lr=1e-3") == ("train.lr", 1e-3)
    assert parse_override("backbone.levels=[1, 2]") == ("backbone.levels", [1, 2])
    assert parse_override("loss.kind=hinge") == ("loss.kind", "hinge")
    with pytest.raises(UserInputError, match="key=value"):
        parse_override("train.lr")


def test_bad_config_file_is_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("flow:\n  coupling_blocks: [1\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        load_config_file(path)
    path.write_text("flowz:\n  coupling_blocks: 2\n")
    with pytest.raises(UserInputError, match="unknown section 'flowz'"):
        load_config_file(path)


def test_paper_preset_matches_the_reference_setting():
    paper = preset("paper")
    assert paper.backbone.name == "cait_m48_448" and paper.backbone.image_size == 448
    assert paper.flow.coupling_blocks == 10 and paper.flow.block_pattern == "CA"
    assert paper.loss.kind == "constrained" and paper.loss.weight == 0.5 and paper.loss.margin == 0.0
    assert paper.train.lr == 2e-4 and paper.map.score == "density"
    assert preset("default") == SSFlowConfig()


@pytest.mark.parametrize("weight, label_free", [(0.0, False), (0.5, False), (0.99, False), (1.0, True)])
def test_only_a_fully_synthetic_objective_is_label_free(weight: float, label_free: bool) -> None:
    config = config_from_flat({"validation.synthetic_weight": weight})
    assert config.validation.label_free is label_free
    assert chosen_on(weight).startswith("synthetic") is label_free  # tables and exports say the same
