"""Where ASHA may stop a trial, as the command prints it and as Ray's scheduler places it."""

import pytest

from search.scheduler import SweepScheduler, pruning_rungs


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
    assert pruning_rungs(max_epochs, grace, factor) == expected
    # Every category's ASHA in the scheduler the sweep builds has exactly these rungs below the budget.
    scheduler = SweepScheduler(["a", "b"], max_epochs, grace, factor)
    for category in ("a", "b"):
        assert [m for m in sorted(scheduler.rung_records(category)) if m < max_epochs] == expected
