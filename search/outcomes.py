"""How a trial ended, and how that is told to its Optuna study."""

from __future__ import annotations

from typing import NamedTuple

from optuna.trial import TrialState

FAILED_OBJECTIVE = 0.0  # what TPE learns from a diverged trial: the worst quality


class Outcome(NamedTuple):
    """How a trial ended, as the searcher tells it to the study."""

    status: str  # finished | pruned | diverged | failed
    epoch: int
    objective: float | None
    latency_ms: float | None = None


def optuna_closing(outcome: Outcome, multi_objective: bool) -> tuple[TrialState, list[float] | None]:
    """The state and values a trial that ended with ``outcome`` is closed with.

    A finished trial is complete with its objective (and latency, for the
    quality-latency front; without a latency it fails). A pruned trial is
    pruned. A diverged trial of a single-objective study is complete with
    :data:`FAILED_OBJECTIVE`, so TPE learns to avoid the region; a multi-objective
    study has no worst point to give it, so there, as for a crash, it fails.
    """
    if outcome.status == "finished" and outcome.objective is not None:
        if multi_objective:
            if outcome.latency_ms is None:
                return TrialState.FAIL, None
            return TrialState.COMPLETE, [outcome.objective, outcome.latency_ms]
        return TrialState.COMPLETE, [outcome.objective]
    if outcome.status == "pruned":
        return TrialState.PRUNED, None
    if outcome.status == "diverged" and not multi_objective:
        return TrialState.COMPLETE, [FAILED_OBJECTIVE]
    return TrialState.FAIL, None
