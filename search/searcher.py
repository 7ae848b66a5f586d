"""Optuna TPE that sees pruned trials as pruned, not as finished with a truncated score.

Ray's ``OptunaSearch`` tells Optuna that a trial stopped by ASHA is COMPLETE
with its last (low-budget) value, so TPE would rank a config pruned at epoch 2
against configs trained to the end. Here a trial that stopped before the full
budget is told as PRUNED; Optuna then ranks it by how far it got and its
intermediate values (reported every epoch), which are comparable rung by rung.
A trial that diverged is told COMPLETE with the worst objective, so TPE learns
to avoid that region instead of ignoring it.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch


class BudgetAwareOptunaSearch(OptunaSearch):
    def __init__(self, *args: Any, max_epochs: int, time_attr: str = "epoch", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_epochs = max_epochs
        self.time_attr = time_attr

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and result.get("status") == "failed":
            super().on_trial_complete(trial_id, {self.metric: result.get(self.metric, 0.0)}, error=False)
        elif result and not error and result.get(self.time_attr, 0) < self.max_epochs:
            super().on_trial_complete(trial_id, None, error=False)  # no value and no error: PRUNED
        else:
            super().on_trial_complete(trial_id, result, error)
