"""Config values as users type them: non-finite numbers refused, strings kept as typed, binary files refused."""

import pytest

from cli.main import main
from file_fingerprints import folder_hashes
from ssflow.settings.config_files import load_config_file, parse_override
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@pytest.mark.parametrize("value", ["nan", "NaN", ".nan", "inf", "-inf", ".inf", "1e999"])
def test_non_finite_numbers_are_refused_for_float_keys(value, tmp_path, error_line):
    code = main(["train", "--dataset", "demo", "--category", "wood", "--set", f"train.lr={value}",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    line = error_line()
    assert "train.lr" in line and "finite" in line
    assert not (tmp_path / "out").exists()


def test_non_finite_numbers_are_refused_for_integer_keys():
    with pytest.raises(UserInputError, match="flow.coupling_blocks"):
        config_from_flat({"flow.coupling_blocks": float("inf")})


@pytest.mark.parametrize("typed", ["01", "007", "no", "on", "1e3", "0x10", "2024-01-01", "'01'"])
def test_a_string_key_keeps_the_value_as_typed(typed):
    key, value = parse_override(f"data.category={typed}")
    assert key == "data.category" and value == typed.strip("'")
    assert config_from_flat({key: value}).data.category == typed.strip("'")


def test_numbers_and_lists_are_still_read_for_typed_keys():
    assert parse_override("train.lr=3e-3") == ("train.lr", 3e-3)
    assert parse_override("backbone.levels=[2,3]") == ("backbone.levels", [2, 3])


@pytest.mark.parametrize("flag", ["--config", "--space"])
def test_a_binary_file_given_as_config_or_space_is_one_line(flag, small_demo_root, tmp_path, error_line):
    binary = tmp_path / "settings.yaml"
    binary.write_bytes(BINARY)
    before = folder_hashes(tmp_path)
    if flag == "--config":
        arguments = ["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                     "--config", str(binary), "--out", str(tmp_path / "out")]
    else:
        arguments = ["--dataset", "btad", "--data-root", str(small_demo_root), "--space", str(binary),
                     "--storage", str(tmp_path / "runs")]
    assert main(arguments) == 2
    line = error_line()
    assert str(binary) in line and "not a YAML text file" in line
    assert folder_hashes(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["settings.yaml"]


def test_a_config_file_keeps_string_values_as_written(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("data:\n  category: 01\n  dataset: btad\n  root: null\ntrain:\n  lr: 1e-3\n")
    config = load_config_file(path)
    assert config.data.category == "01" and config.data.root == "" and config.train.lr == 1e-3
