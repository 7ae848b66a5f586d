"""Where ASHA may stop a trial, as the command prints it and as Ray's scheduler places it."""

import pytest

from search import sweep
from search.sweep import SweepOptions, pruning_rungs
from spaces.space import load_space
from ssflow.config import config_from_flat


def _options(max_epochs: int, grace_period: int, reduction_factor: int) -> SweepOptions:
    return SweepOptions(base=config_from_flat({}), space=load_space("demo"), name="t", storage="/tmp/unused",
                        max_epochs=max_epochs, grace_period=grace_period, reduction_factor=reduction_factor)


@pytest.mark.parametrize("max_epochs, grace, factor, expected", [
    (8, 1, 3, [1, 3]),
    (8, 1, 4, [1, 4]),
    (16, 1, 4, [1, 4]),  # 16 itself is the budget, not a decision
    (20, 2, 3, [2, 6, 18]),
    (27, 1, 3, [1, 3, 9]),
    (4, 1, 3, [1, 3]),
    (3, 5, 2, []),  # grace beyond the budget: nothing is pruned
])
def test_rungs_match_rays_scheduler(max_epochs, grace, factor, expected):
    options = _options(max_epochs, grace, factor)
    assert pruning_rungs(options) == expected
    # The scheduler the sweep builds: one bracket whose rungs are (milestone, recorded) pairs.
    milestones = sorted(milestone for milestone, _ in sweep._scheduler(options)._brackets[0]._rungs)
    assert [m for m in milestones if m < max_epochs] == expected
