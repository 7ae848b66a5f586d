"""The Ray Tune searcher of a sweep: every category's study at once, sharing the cluster fairly.

Ray Tune asks for a trial whenever it could start one; :class:`SweepSearcher`
answers with the next trial of the category that has the fewest trials running
(ties: the one that started fewest so far), among the categories that have
work now. So while every category still has trials to run each gets an equal
share of ``--concurrency`` (the total), and a category waiting for its last
trials leaves its slots to the others. Each category keeps its own Optuna
study and sampler (:mod:`search.category_study`): no category learns from
another's objective, except through warm starts (a category that has finished
its search offers its best config to those still searching).

On a time budget (:mod:`search.time_budget`) the same searcher times every
trial, starts a searched trial or finalist run only where the budget expects
it to end in time, gives a free slot to the category that has used the fewest
slot-seconds (among those with the fewest trials running), ends a category's
search once it converged, and finishes when the budget is spent.

Trials stopped by ASHA are told to Optuna as pruned (their per-epoch values are
reported as intermediate values, comparable rung by rung); a diverged trial is
told the worst objective so TPE learns to avoid the region; a crashed trial is
a failure. A trial interrupted with the driver stays running in the study and
resumes from its checkpoint next time.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ray.tune.search import Searcher

from search.category_study import CategoryStudy
from search.outcomes import Outcome
from search.options import UNLIMITED_SAMPLES
from search.studies import ROLE_FINALIST, SEARCH_ROLES, TrialSpec
from search.time_budget import TimeBudget

OBJECTIVE = "objective"  # what trials report and the search maximises (ssflow.evaluation.evaluate.selection_objective)
TIME_ATTR = "epoch"


def outcome_of(result: Mapping[str, Any] | None, error: bool, max_epochs: int) -> Outcome | None:
    """How a trial ended from its last result; None when it never reported (it was never started)."""
    if error:
        epoch = int((result or {}).get(TIME_ATTR, 0))
        return Outcome("failed", epoch, None)
    if not result:
        return None
    epoch = int(result.get(TIME_ATTR, 0))
    if result.get("status") in ("diverged", "failed"):  # failed: a trial of an older version that diverged
        return Outcome("diverged", epoch, None)
    objective = result.get(OBJECTIVE)
    status = "finished" if epoch >= max_epochs else "pruned"
    return Outcome(status, epoch, None if objective is None else float(objective), result.get("latency_ms"))


class SweepSearcher(Searcher):
    """Suggests trials from the studies of all categories; see the module docstring."""

    def __init__(self, studies: Mapping[str, CategoryStudy], max_epochs: int, concurrency: int,
                 trial_dir: Callable[[str, str], str], budget: TimeBudget | None = None) -> None:
        """``budget``: the sweep's time budget (None: trial counts alone end it); shared with the scheduler."""
        super().__init__(metric=OBJECTIVE, mode="max")
        self.budget = budget
        self.studies = dict(studies)
        self.order = list(studies)
        self.max_epochs = max_epochs
        self.concurrency = concurrency
        self.trial_dir = trial_dir  # (trial key, Tune trial id) -> the folder of its checkpoints
        self.live: dict[str, TrialSpec] = {}  # Tune trial id -> what it runs
        self.offered: set[str] = set()  # categories whose best config went to the others

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its searcher when the experiment starts; open databases cannot travel.
        state = self.__dict__.copy()
        state["studies"] = {}
        return state

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.concurrency = max_concurrent
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if len(self.live) >= self.concurrency:
            return None
        expired = self.budget is not None and self.budget.expired()
        # After the budget's end only a category that has not started any trial may (its start trial): every
        # category leaves the sweep with something to export. The trials still running are stopped by the scheduler.
        ready = [category for category in self.order if self._may_start(category)
                 and not (expired and (self.studies[category].trials or self.studies[category].running))]
        if expired and not ready:
            return Searcher.FINISHED
        if not ready:
            return Searcher.FINISHED if self.finished() or self._budget_idle() else None
        chosen = min(ready, key=self._priority)
        spec = self.studies[chosen].next_trial(lambda key: self.trial_dir(key, trial_id))
        if spec is None:
            return None
        self.live[trial_id] = spec
        if self.budget is not None:
            self.budget.trial_started(spec.category, spec.key, spec.role == ROLE_FINALIST)
            self._update_outlook()
        return spec.as_config()

    def _priority(self, category: str) -> tuple[float, int, float, int]:
        """Fewest trials running first; on a budget a category about to lose its last chance to start a searched
        trial (:meth:`TimeBudget.is_urgent`); then fewest trials started, or on a budget fewest slot-seconds."""
        study = self.studies[category]
        if self.budget is None:
            return len(study.running), 1, len(study.trials), self.order.index(category)
        urgent = study.next_is_search() and self._behind(category) \
            and self.budget.is_urgent(category, self._planned_finalist_runs())
        return len(study.running), 0 if urgent else 1, self.budget.share_s(category), self.order.index(category)

    def _behind(self, category: str) -> bool:
        """Whether ``category`` has started fewer trials than some other category still searching."""
        mine = len(self.studies[category].trials)
        return any(len(study.trials) > mine for other, study in self.studies.items()
                   if other != category and not study.search_done())

    def _may_start(self, category: str) -> bool:
        """Whether ``category`` has a trial to start now that its share of the time budget allows."""
        study = self.studies[category]
        if self.budget is None or not study.trials and not study.running:
            return study.can_start()  # a category's first trial always starts: an export falls back on it
        if study.next_is_search() and not self.budget.search_allows(category, self._planned_finalist_runs()):
            study.end_search("time budget")
            self.budget.search_ended(category, "time budget")
            self._update_outlook()
        if not study.can_start():
            return False
        return study.next_is_search() or bool(study.resume) or self.budget.finalist_allows(category)

    def _planned_finalist_runs(self) -> dict[str, int]:
        """Finalist runs the budget keeps time for: those waiting for a category whose search has ended; for
        one still searching, those its current top configs would get (:meth:`CategoryStudy.finalist_parents`),
        or all while it has fewer than two full-budget configs to tell apart."""
        return {category: finalist_runs_ahead(study) for category, study in self.studies.items()}

    def _budget_idle(self) -> bool:
        """On a time budget: nothing runs and nothing may start, so waiting for the clock would buy nothing."""
        return self.budget is not None and not self.live

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        spec = self.live.get(trial_id)
        if spec is not None and self.budget is not None:
            self.budget.trial_result(spec.key, bool(result.get("features_computed")))
        if spec is not None and result.get(OBJECTIVE) is not None and result.get("status") == "running":
            self.studies[spec.category].report(spec.key, int(result[TIME_ATTR]), float(result[OBJECTIVE]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        spec = self.live.pop(trial_id, None)
        if spec is None:
            return
        study = self.studies[spec.category]
        outcome = outcome_of(result, error, self.max_epochs)
        if outcome is None:  # removed before it ran: run it again later
            study.running.discard(spec.key)
            study.resume.appendleft(spec)
            return
        study.complete(spec.key, outcome)
        if self.budget is not None:
            self._account(spec, outcome)
        self._offer_best(spec.category)
        if self.budget is not None:
            self._update_outlook()

    def _account(self, spec: TrialSpec, outcome: Outcome) -> None:
        """Record a trial's end on the budget; a category whose search converged or ran its samples says so."""
        assert self.budget is not None
        self.budget.trial_ended(spec.key, stopped_by_budget=outcome.status == "pruned" and self.budget.expired())
        if outcome.status == "finished":
            self.budget.exportable.add(spec.category)
        study = self.studies[spec.category]
        if study.check_converged():
            self.budget.search_ended(spec.category, "converged")
        if study.search_done():
            self.budget.search_ended(spec.category, study.search_end or "samples")

    def _update_outlook(self) -> None:
        """Tell the budget the runs each category has still to start, for the live view's end estimate."""
        assert self.budget is not None
        self.budget.runs_to_start = {category: runs_to_start(study) for category, study in self.studies.items()}

    def _offer_best(self, category: str) -> None:
        """Once a category's search has ended, its best config becomes a warm start of the others."""
        study = self.studies[category]
        if category in self.offered or not study.search_done():
            return
        self.offered.add(category)
        best = study.best_values()
        if best is None:
            return
        for other in self.order:
            if other != category:
                self.studies[other].offer(best, f"best of category {category} in this sweep")

    def finished(self) -> bool:
        """Every category's study has nothing left to run."""
        return not self.live and all(study.finished() for study in self.studies.values())


def finalist_runs_ahead(study: CategoryStudy) -> int:
    """Finalist runs ``study`` has still to start: those waiting once its search has ended; while it searches,
    those it would plan if its search ended now (all of them while fewer than two of its configs ran the full
    budget: nothing to judge the lead by yet)."""
    if study.search_done():
        return study.waiting((ROLE_FINALIST,))
    if len(study.top_configs(2)) < 2:
        return study.options.finalist_runs
    return len(study.finalist_parents()) * study.options.finalist_seeds


def runs_to_start(study: CategoryStudy) -> int | None:
    """Searched trials and finalist runs ``study`` has still to start; None while only the budget ends its search."""
    finalists = finalist_runs_ahead(study)
    if study.search_done():
        return finalists
    if study.sample_limit >= UNLIMITED_SAMPLES:
        return None
    started = study.searched() - study.waiting(SEARCH_ROLES)
    return max(0, study.sample_limit - started) + finalists
