"""ASHA per category inside one Ray Tune experiment, with rung records that survive a resume.

:class:`SweepScheduler` keeps one Ray ``ASHAScheduler`` per category, so a
trial is only ever compared with trials of its own category, and keys every
trial by its logical key (the store's ``trial_id``), which a resumed trial
keeps. Portfolio configs, the base config and finalist runs are trained to
the full budget: ASHA records the start trials' results (they set the bar for
the others) but never stops them, and finalists, which repeat configs that
already passed, stay out of the rungs. On a time budget, a trial reporting
after the budget's end is stopped there
(:meth:`search.time_budget.TimeBudget.keeps_running`).

Ray does not save ASHA's rung records with the experiment, so a resumed sweep
would prune less than an uninterrupted one. :meth:`SweepScheduler.replay`
rebuilds them from the results store, which holds every trial's per-epoch
objective: the results are fed to each category's ASHA again in the order they
were written, which records the same values at the same rungs.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

import numpy as np
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from search.searcher import OBJECTIVE, TIME_ATTR
from search.studies import PROTECTED_ROLES, ROLE_FINALIST
from search.time_budget import TimeBudget


class _Keyed(NamedTuple):
    """What ASHA reads of a trial: its id. Here the logical key, stable across resumes."""

    trial_id: str


class RungResult(NamedTuple):
    """One reported epoch of a trial, as stored: replayed into ASHA on resume."""

    category: str
    key: str
    epoch: int
    objective: float


def pruning_rungs(max_epochs: int, grace_period: int, reduction_factor: int) -> list[int]:
    """The epochs at which ASHA may stop a trial, as Ray places them (grace period x reduction factor^k).

    A trial promoted past the last of them trains to the full budget, so the
    share of compute ASHA saves depends on how far below the budget that rung is.
    """
    grace = min(grace_period, max_epochs)
    count = int(np.log(max_epochs / grace) / np.log(reduction_factor) + 1)
    milestones = (grace * reduction_factor ** k for k in range(count))
    return [epoch for epoch in milestones if epoch < max_epochs]


class SweepScheduler(FIFOScheduler):
    """One ASHA per category; see the module docstring."""

    def __init__(self, categories: Iterable[str], max_epochs: int, grace_period: int, reduction_factor: int,
                 budget: TimeBudget | None = None) -> None:
        """``budget``: the sweep's time budget; at its end running trials are stopped
        (:meth:`search.time_budget.TimeBudget.keeps_running`)."""
        super().__init__()
        self.max_epochs = max_epochs
        self.budget = budget
        self.ashas = {
            category: ASHAScheduler(time_attr=TIME_ATTR, metric=OBJECTIVE, mode="max", max_t=max_epochs,
                                    grace_period=min(grace_period, max_epochs), reduction_factor=reduction_factor)
            for category in categories
        }
        self.tracked: set[tuple[str, str]] = set()  # (category, key) added to an ASHA and not yet removed

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    @staticmethod
    def _identity(trial: Trial) -> tuple[str, str, str]:
        config = trial.config
        return config["category"], config["key"], config["role"]

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        category, key, role = self._identity(trial)
        if role != ROLE_FINALIST and (category, key) not in self.tracked:
            self.ashas[category].on_trial_add(tune_controller, _Keyed(key))
            self.tracked.add((category, key))

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        category, key, role = self._identity(trial)
        if self.budget is not None and not self.budget.keeps_running(category, role):
            return TrialScheduler.STOP
        if (category, key) not in self.tracked:
            return TrialScheduler.CONTINUE
        action = self.ashas[category].on_trial_result(tune_controller, _Keyed(key), result)
        if role in PROTECTED_ROLES and int(result.get(TIME_ATTR, 0)) < self.max_epochs:
            return TrialScheduler.CONTINUE
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        category, key, _ = self._identity(trial)
        if (category, key) in self.tracked:
            self.tracked.discard((category, key))
            self.ashas[category].on_trial_complete(tune_controller, _Keyed(key), result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        category, key, _ = self._identity(trial)
        if (category, key) in self.tracked:
            self.tracked.discard((category, key))
            self.ashas[category].on_trial_remove(tune_controller, _Keyed(key))

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self.on_trial_remove(tune_controller, trial)

    def replay(self, results: Iterable[RungResult]) -> int:
        """Feed stored results (in the order they were written) to the categories' ASHAs; returns how many.

        Only the rung records change: the decisions ASHA takes during the
        replay were taken (and carried out) when the results first came in.
        """
        count = 0
        for category, key, epoch, objective in results:
            if category not in self.ashas:
                continue
            asha = self.ashas[category]
            if (category, key) not in self.tracked:
                asha.on_trial_add(None, _Keyed(key))
                self.tracked.add((category, key))
            asha.on_trial_result(None, _Keyed(key), {TIME_ATTR: epoch, OBJECTIVE: objective})
            count += 1
        for category, key in list(self.tracked):
            self.ashas[category].on_trial_remove(None, _Keyed(key))
            self.tracked.discard((category, key))
        return count

    def rung_records(self, category: str) -> dict[int, dict[str, float]]:
        """``{milestone epoch: {trial key: objective}}`` of a category: what ASHA compares against."""
        bracket = self.ashas[category]._brackets[0]  # one bracket: Ray's ASHA keeps its records there
        return {int(milestone): dict(recorded) for milestone, recorded in bracket._rungs}
