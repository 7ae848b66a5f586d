"""Loading and validating search-space files."""

from __future__ import annotations

from pathlib import Path

import pytest

from spaces.space import ChoiceParam, FixedParam, FloatParam, IntParam, load_space, shipped_spaces
from ssflow.errors import UserInputError

GOOD = """\
description: small and fast on CPU
parameters:
  flow.coupling_blocks: {type: int, low: 2, high: 6}
  flow.hidden_channels: {type: choice, choices: [32, 64, 96]}
  train.lr: {type: float, low: 2.0e-4, high: 3.0e-3, log: true}
  flow.block_pattern: {type: choice, choices: [C, CC, CA]}
  backbone.levels: {type: choice, choices: [[2, 3], [1, 2, 3]]}
  train.epochs: 8
  synthesis.extra_patches: {type: int, low: 0, high: 4, step: 2}
  flow.clamp: {type: fixed, value: 2}
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parses_every_parameter_kind(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, GOOD, "mine.yaml"))
    assert space.name == "mine"
    assert space.description == "small and fast on CPU"
    params = {p.name: p for p in space.params}
    assert params["flow.coupling_blocks"] == IntParam("flow.coupling_blocks", 2, 6)
    assert params["train.lr"] == FloatParam("train.lr", 2.0e-4, 3.0e-3, log=True)
    assert params["backbone.levels"] == ChoiceParam("backbone.levels", ((2, 3), (1, 2, 3)))
    assert params["train.epochs"] == FixedParam("train.epochs", 8)
    assert params["synthesis.extra_patches"] == IntParam("synthesis.extra_patches", 0, 4, step=2)
    # Fixed values take the config's declared type (flow.clamp is a float).
    assert params["flow.clamp"] == FixedParam("flow.clamp", 2.0)
    assert isinstance(params["flow.clamp"].value, float)
    assert [p.name for p in space.params][:2] == ["flow.coupling_blocks", "flow.hidden_channels"]
    assert space.fixed_values() == {"train.epochs": 8, "flow.clamp": 2.0}
    assert len(space.searched()) == 6


def test_bare_name_loads_shipped_space() -> None:
    assert {"default", "demo", "paper"} <= set(shipped_spaces())
    assert load_space("demo").name == "demo"


def test_missing_file_lists_shipped_spaces(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"not found: space 'nope'; shipped spaces: .*demo"):
        load_space("nope")
    with pytest.raises(UserInputError, match=r"missing\.yaml.*shipped spaces"):
        load_space(tmp_path / "missing.yaml")


BAD_CASES = [
    ("  flow.coupling_blokcs: {type: int, low: 2, high: 6}", r"parameters\.flow\.coupling_blokcs: unknown config key; did you mean 'flow\.coupling_blocks'"),
    ("  zzz: 3", r"parameters\.zzz: unknown config key; see ssflow/settings/config\.py"),
    ("  flow.coupling_blocks: {type: int, low: 6, high: 2}", r"low \(6\) is greater than high \(2\)"),
    ("  train.lr: {type: float, low: 0.0, high: 0.1, log: true}", r"parameters\.train\.lr: log scale needs low > 0"),
    ("  flow.block_pattern: {type: choice, choices: []}", r"'choices' must be a non-empty list"),
    ("  flow.clamp: {type: int, low: 1, high: 3}", r"type int on flow\.clamp, which holds a float; use type: float"),
    ("  flow.coupling_blocks: {type: float, low: 1.0, high: 3.0}", r"which holds an integer; use type: int"),
    ("  flow.block_pattern: {type: int, low: 1, high: 3}", r"needs a numeric config key.*use type: choice"),
    ("  train.lr: {type: float, low: 2e-4, high: abc}", r"'high' must be a number, got 'abc'"),
    ("  flow.coupling_blocks: {type: int, low: 2.5, high: 6}", r"'low' must be an integer, got 2\.5"),
    ("  flow.coupling_blocks: {type: range, low: 2, high: 6}", r"unknown type 'range'; expected one of int, float, choice, fixed"),
    ("  flow.coupling_blocks: {type: int, low: 2, high: 6, stepp: 2}", r"unknown field 'stepp' for type int"),
    ("  flow.coupling_blocks: {type: int, low: 2, high: 7, step: 2}", r"not a multiple of step \(2\); e\.g\. high: 6"),
    ("  flow.block_pattern: {type: choice, choices: [C, CX]}", r"parameters\.flow\.block_pattern: config key 'flow\.block_pattern': got 'CX'"),
    ("  flow.clamp: {type: float, low: 1.0, high: 20.0}", r"parameters\.flow\.clamp: config key 'flow\.clamp': got 20\.0, expected a number in \(0, 10\]"),
    ("  flow.hidden_channels: {type: choice, choices: [32, abc]}", r"config key 'flow\.hidden_channels': got 'abc', expected an integer"),
    ("  loss.kind: hinged", r"fixed values.*: config key 'loss\.kind': got 'hinged'"),
    ("  flow.block_pattern: {type: choice, choices: [C, C]}", r"choice 'C' appears more than once"),
    ("  backbone.levels: {type: choice, choices: [[2, 3], [3, 3]]}", r"backbone\.levels.*distinct feature indices"),
]


@pytest.mark.parametrize(("line", "message"), BAD_CASES)
def test_bad_parameter_is_one_line_error_naming_file_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "description: x\nparameters:\n" + line + "\n")
    with pytest.raises(UserInputError, match=message) as info:
        load_space(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path))


def test_exponents_without_a_dot_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 reads 2e-4 as a string; in a space it is the number it looks like."""
    space = load_space(write(tmp_path, "parameters:\n  train.lr: {type: float, low: 2e-4, high: 1e-2, log: true}\n"))
    [lr] = space.searched()
    assert (lr.low, lr.high) == (2e-4, 1e-2)


def test_values_checked_together_with_the_rest_of_the_space(tmp_path: Path) -> None:
    # 5 heads do not divide the default width (64) but do divide every searched width.
    fine = "parameters:\n  flow.attention_heads: 5\n  flow.block_pattern: CA\n" \
        "  flow.hidden_channels: {type: choice, choices: [40, 80]}\n"
    assert load_space(write(tmp_path, fine)).fixed_values()["flow.attention_heads"] == 5
    bad = fine.replace("[40, 80]", "[40, 48]")
    with pytest.raises(UserInputError, match=r"parameters\.flow\.hidden_channels: .*attention_heads.*divisor"):
        load_space(write(tmp_path, bad))


def test_overlapping_ranges_that_can_sample_an_invalid_config_are_rejected(tmp_path: Path) -> None:
    text = (
        "parameters:\n  synthesis.min_size: {type: float, low: 0.01, high: 0.3}\n"
        "  synthesis.max_size: {type: float, low: 0.05, high: 0.4}\n"
    )
    with pytest.raises(UserInputError, match=r"parameters\.synthesis\.min_size: .*min_size <= max_size"):
        load_space(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters: {flow.clamp: 2.0}\nsearch: tpe\n", r"unknown top-level key 'search'; expected only description, preset, parameters"),
        ("description: x\n", r"'parameters' must be a non-empty mapping"),
        ("- a\n- b\n", r"expected a mapping with keys description, preset, parameters, got list"),
        ("parameters: {flow.clamp: [1, 2\n", r"not valid YAML"),
    ],
)
def test_bad_file_structure(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UserInputError, match=message) as info:
        load_space(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_the_paper_space_is_built_on_the_paper_preset_so_they_cannot_drift() -> None:
    from ssflow.settings.presets import PRESETS

    space = load_space("paper")
    searched = {p.name for p in space.searched()}
    fixed = space.fixed_values()
    for key, value in PRESETS["paper"].items():
        if key in searched:
            continue
        expected = tuple(value) if isinstance(value, list) else value
        assert fixed[key] == expected or key == "train.epochs", key  # epochs: the file caps a trial at 100
    assert fixed["train.epochs"] == 100 and fixed["backbone.levels"] == (47,)


def test_an_unknown_preset_is_refused_naming_it(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("preset: papr\nparameters:\n  train.lr: {type: float, low: 1.0e-4, high: 1.0e-3}\n")
    with pytest.raises(UserInputError, match=r"space.yaml: preset 'papr' is not a preset; expected one of default, "
                                             r"paper"):
        load_space(path)
