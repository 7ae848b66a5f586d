"""Which sweeps share one synthetic bank on disk."""

import pytest

from search.sweep import bank_is_shared
from spaces.space import load_space, parse_space


def _space(parameters: dict) -> object:
    return parse_space({"parameters": parameters}, "test", "test")


@pytest.mark.parametrize("parameters, shared", [
    ({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-3}}, True),
    # Fixed synthesis values are the same for every trial: still one bank.
    ({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-3}, "synthesis.max_size": 0.3}, True),
    ({"synthesis.max_size": {"type": "float", "low": 0.15, "high": 0.35}}, False),
    ({"synthesis.bank_rounds": {"type": "choice", "choices": [1, 2]}}, False),
])
def test_bank_is_shared_only_when_no_synthesis_setting_is_sampled(parameters, shared):
    assert bank_is_shared(_space(parameters)) is shared


def test_shipped_spaces_that_vary_synthesis_keep_banks_per_trial():
    assert not bank_is_shared(load_space("demo"))
    assert not bank_is_shared(load_space("wide"))
    assert bank_is_shared(load_space("default"))  # synthesis fixed: every trial reads one bank from the cache
