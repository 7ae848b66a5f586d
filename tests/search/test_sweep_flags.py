"""The sweep's flag table: one row per flag feeds the parser, the checks, the options and the resume rule."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import replace

import pytest

from search import sweep_flags
from search.sweep_record import check_resume
from search.options import SweepOptions
from search.sweep_flags import FIXED, SWEEP_FLAGS, SweepContext, SweepFlag, add_sweep_flags, option_values
from spaces.space import load_space
from ssflow.errors import UserInputError
from ssflow.settings.flat_config import config_from_flat

# Fields the command fills itself, not from one flag: the base config (--config, --set, --seed, --dataset),
# the space (--space) and the sweep's name (--name, or one made up).
COMMAND_FIELDS = {"base", "space", "name"}


def _parsed(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sweep_flags(parser)
    return parser.parse_args(["--dataset", "demo", *argv])


def _options(argv: list[str]) -> SweepOptions:
    base = config_from_flat({"train.epochs": 7})
    values = option_values(_parsed(argv), SweepContext(base, load_space("demo"), {"CPU": 2.0}))
    return SweepOptions(base=base, space=load_space("demo"), name="t", **values)


def test_every_option_is_filled_by_a_row_and_every_row_names_an_option() -> None:
    fields = {field.name for field in dataclasses.fields(SweepOptions)}
    assert set(_options([]).__dict__) == fields
    filled = set(option_values(_parsed([]), SweepContext(config_from_flat({}), load_space("demo"), {})))
    assert filled == fields - COMMAND_FIELDS
    assert {row.option for row in SWEEP_FLAGS if row.option} <= fields
    assert len({row.flag for row in SWEEP_FLAGS}) == len(SWEEP_FLAGS)


def test_resume_keeps_exactly_the_fixed_rows() -> None:
    options = _options(["--grace-period", "2"])
    stored = {"fixed": sweep_flags.fixed_on_resume(options), "base": {}}
    assert set(stored["fixed"]) == {row.flag for row in SWEEP_FLAGS if row.resume == FIXED}
    assert {"--space", "--seed", "--dataset", "--objective", "--max-epochs"} <= set(stored["fixed"])
    check_resume(replace(options, num_samples=40, concurrency=1), stored)  # may change
    with pytest.raises(UserInputError, match="--grace-period 3: sweep 't' was started with 2"):
        check_resume(replace(options, grace_period=3), stored)


def test_a_new_row_is_one_edit_parser_check_option_and_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row turning --max-failures into a resume-fixed setting with its own check changes everything at once."""
    row = SweepFlag("--max-failures", "retries", {"type": int, "default": 2}, option="max_failures", resume=FIXED,
                    check=lambda value: None if value <= 5 else "at most 5 retries")
    table = tuple(row if old.flag == "--max-failures" else old for old in SWEEP_FLAGS)
    monkeypatch.setattr(sweep_flags, "SWEEP_FLAGS", table)
    assert _options(["--max-failures", "4"]).max_failures == 4
    with pytest.raises(UserInputError, match="--max-failures 9: expected at most 5 retries"):
        sweep_flags.check_flag_values(_parsed(["--max-failures", "9"]))
    options = _options(["--max-failures", "4"])
    stored = {"fixed": sweep_flags.fixed_on_resume(options), "base": {}}
    with pytest.raises(UserInputError, match="--max-failures 1: sweep 't' was started with 4"):
        check_resume(replace(options, max_failures=1), stored)


@pytest.mark.parametrize(("argv", "message"), [
    (["--num-samples", "0"], "--num-samples 0: expected a value > 0"),
    (["--reduction-factor", "1"], "--reduction-factor 1: expected an integer >= 2"),
    (["--finalists", "-1"], "--finalists -1: expected an integer >= 0"),
    (["--gpus-per-trial", "-0.5"], "--gpus-per-trial -0.5: expected a value >= 0"),
    (["--max-epochs", "0"], "--max-epochs 0: expected an integer >= 1"),
])
def test_row_checks_refuse_in_one_line_naming_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        sweep_flags.check_flag_values(_parsed(argv))
