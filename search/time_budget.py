"""A sweep on a time budget (``--time-budget``): when trials may start, when they stop, where time went.

The budget is wall time from the moment the sweep's trials may start (Ray
connected, every category read: that start-up is reported on its own) to the
end of its last trial, over all categories together. How it is spent:

- **Every category first gets its start trials** (portfolio configs, the base
  config, warm starts), whatever the clock says: they are what an export falls
  back on.
- **Searched trials** start only while one more full-budget trial of the
  category (its wall time as measured so far in this sweep) ends before the
  *search deadline*: the budget's end less the time kept for finalists (their
  planned runs x the category's trial time / the slots, at most
  :data:`FINALIST_SHARE` of the budget; nothing when that is shorter than one
  finalist run, which could not finish in it anyway). A category still
  searching plans what its current top configs would get
  (:class:`search.searcher.SweepSearcher`).
- **Which category gets a free slot**: the one with the fewest trials running,
  then the one that has used the fewest slot-seconds (less the one-off costs
  of its first trials: worker starts, feature passes). So a category whose
  trials are slow gets fewer of them, and time a category does not use (its
  search converged, see :mod:`search.convergence`) goes to the others.
- **Finalist runs** start while one fits before the budget's end.
- **At the budget's end** every running trial is stopped (recorded as pruned at
  its last epoch), except a category's only hope: a start trial of a category
  that has no full-budget result yet trains on, so every category ends with an
  exportable config even when one training is longer than the budget.

Trial wall times are measured, not modelled: the first result's delay (setup,
feature pass, first epoch) and the median wall time between later results, per
category (other categories' median until a category has its own).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from search.studies import START_ROLES

FINALIST_SHARE = 0.25  # at most this share of the budget is kept for finalist runs
URGENT_SHARE = 0.5  # of a category's trial time: a shorter chance to start one makes it go first


@dataclass
class _TrialClock:
    category: str
    started: float
    last: float  # time of the last result (or the start)
    cold: bool  # among the first trials of the sweep: its first result also paid for starting a worker
    results: int = 0
    one_off_first_s: float | None = None  # delay to a first result that also paid one-off costs
    ended: float | None = None


@dataclass
class CategorySpending:
    """Where one category's share of the budget went."""

    slot_seconds: float = 0.0  # wall seconds of its trials, summed (two at once count twice)
    trials: int = 0
    finalist_runs: int = 0
    stopped_by_budget: int = 0
    search_ended: str = ""  # why its search stopped: samples | converged | time budget ("" while searching)


@dataclass
class TimeBudget:
    """The clock and the rules of a sweep's time budget; see the module docstring.

    ``seconds``: the budget; ``concurrency``: trials at once over all
    categories; ``max_epochs``: a full-budget trial's epochs. ``clock`` returns
    seconds (monotonic); tests pass their own.
    """

    seconds: float
    concurrency: int
    max_epochs: int
    clock: Callable[[], float] = time.monotonic
    resumed: bool = False  # this run continues an earlier one (its record covers this run only)
    opened_at: float | None = None  # when the command began (its start-up is reported apart from the budget)
    started_at: float | None = None
    trials: dict[str, _TrialClock] = field(default_factory=dict)  # by trial key
    # Per category: delays to a trial's first result, warm (no worker start, no feature pass) and all.
    first_result_s: dict[str, list[float]] = field(default_factory=dict)
    first_result_any_s: dict[str, list[float]] = field(default_factory=dict)
    epoch_s: dict[str, list[float]] = field(default_factory=dict)  # per category
    spending: dict[str, CategorySpending] = field(default_factory=dict)
    exportable: set[str] = field(default_factory=set)  # categories with a full-budget result
    final_record: dict[str, Any] | None = None  # the record written when the sweep stopped (:meth:`record`)
    # Runs still to start per category (searched and finalist), None for a search only the budget ends; kept
    # by the searcher, read by :meth:`expected_left_s`.
    runs_to_start: dict[str, int | None] = field(default_factory=dict)

    def keeps_running(self, category: str, role: str) -> bool:
        """Whether a trial may go on: before the budget's end any; after it only a start trial (portfolio,
        base) of a category without a full-budget result yet."""
        return not self.expired() or role in START_ROLES and category not in self.exportable

    def start(self) -> None:
        """Start the clock (the sweep's trials may start now)."""
        self.started_at = self.clock()

    # Clock ------------------------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def left(self) -> float:
        """Seconds until the budget's end (negative once past it)."""
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.started_at is not None and self.left() <= 0

    # Trials -----------------------------------------------------------------------------------------------

    def trial_started(self, category: str, key: str, finalist: bool) -> None:
        now = self.clock()
        self.trials[key] = _TrialClock(category, now, now, cold=len(self.trials) < self.concurrency)
        spent = self.spending.setdefault(category, CategorySpending())
        spent.trials += 1
        spent.finalist_runs += int(finalist)

    def trial_result(self, key: str, features_computed: bool = False) -> None:
        """A trial reported an epoch: its wall time since the previous result is measured.

        A first result that also paid for one-off work (starting a worker, the
        backbone's pass over the category's images: ``features_computed``) is
        kept apart, so the trials after it, which reuse both, are not expected to
        take as long.
        """
        trial = self.trials.get(key)
        if trial is None or trial.ended is not None:
            return
        now = self.clock()
        if trial.results == 0:
            self.first_result_any_s.setdefault(trial.category, []).append(now - trial.last)
            if trial.cold or features_computed:
                trial.one_off_first_s = now - trial.last
            else:
                self.first_result_s.setdefault(trial.category, []).append(now - trial.last)
        else:
            self.epoch_s.setdefault(trial.category, []).append(now - trial.last)
        trial.last, trial.results = now, trial.results + 1

    def trial_ended(self, key: str, stopped_by_budget: bool = False) -> None:
        trial = self.trials.get(key)
        if trial is None or trial.ended is not None:
            return
        trial.ended = self.clock()
        spent = self.spending.setdefault(trial.category, CategorySpending())
        spent.slot_seconds += trial.ended - trial.started
        spent.stopped_by_budget += int(stopped_by_budget)

    def used_s(self, category: str) -> float:
        """Slot-seconds ``category`` has used, its running trials included."""
        now = self.clock()
        running = sum(now - t.started for t in self.trials.values() if t.category == category and t.ended is None)
        return self.spending.get(category, CategorySpending()).slot_seconds + running

    def share_s(self, category: str) -> float:
        """Slot-seconds that count against ``category``'s share of the budget: :meth:`used_s` less what its
        trials' first results paid beyond a warm first result (a worker's start, the backbone's pass over the
        category's images). Every category pays those once, but not equally (only the sweep's first trials
        start workers), so they say nothing about what its trials cost."""
        warm = _pooled(self.first_result_s)
        if not warm:
            return self.used_s(category)
        typical = statistics.median(warm)
        one_off = sum(max(0.0, trial.one_off_first_s - typical) for trial in self.trials.values()
                      if trial.category == category and trial.one_off_first_s is not None)
        return self.used_s(category) - one_off

    def trial_s(self, category: str) -> float | None:
        """Expected wall seconds of one full-budget trial of ``category``; None before any trial reported.

        The first result's delay comes from warm trials (the category's own, else
        every category's); with none yet, from all of the category's trials
        while they also paid one-off costs, which overestimates: so the first
        warm trial of a category is not refused on that estimate alone
        (:meth:`search_allows`).
        """
        first = self.first_result_s.get(category) or _pooled(self.first_result_s)
        if not first:
            first = self.first_result_any_s.get(category) or []
        if not first:
            return None
        epochs = self.epoch_s.get(category) or _pooled(self.epoch_s) or first
        return statistics.median(first) + (self.max_epochs - 1) * statistics.median(epochs)

    def expected_left_s(self) -> float:
        """Seconds the sweep is expected to run on: the budget left while some search is ended by the budget
        alone (it fills the time); else the running trials' remaining time plus the runs still to start
        (:attr:`runs_to_start` x a trial's expected time), shared over the slots, at most the budget left."""
        left = self.left()
        if not self.runs_to_start or any(runs is None for runs in self.runs_to_start.values()):
            return left
        now = self.clock()
        running = [max(0.0, (self.trial_s(t.category) or 0.0) - (now - t.started))
                   for t in self.trials.values() if t.ended is None]
        waiting = sum(runs * (self.trial_s(category) or 0.0) for category, runs in self.runs_to_start.items()
                      if runs)
        return min(left, max([*running, (sum(running) + waiting) / max(1, self.concurrency)]))

    # Rules ------------------------------------------------------------------------------------------------

    def finalist_reserve_s(self, planned_runs: dict[str, int]) -> float:
        """Wall seconds kept for the finalist runs still planned (``{category: runs}``), capped; none when the
        capped reserve is shorter than one finalist run (it could not finish one: the search keeps the time)."""
        run_seconds = {category: self.trial_s(category) or 0.0 for category, runs in planned_runs.items() if runs}
        slot_seconds = sum(planned_runs[category] * seconds for category, seconds in run_seconds.items())
        reserve = min(FINALIST_SHARE * self.seconds, slot_seconds / max(1, self.concurrency))
        return reserve if run_seconds and reserve >= max(run_seconds.values()) else 0.0

    def search_allows(self, category: str, planned_finalist_runs: dict[str, int]) -> bool:
        """Whether a searched trial of ``category`` started now is expected to end before the search deadline
        (always, while no warm trial has measured what a trial costs: its first estimate would be inflated)."""
        slack = self.start_slack_s(category, planned_finalist_runs)
        return not self.expired() if slack is None else slack >= 0

    def start_slack_s(self, category: str, planned_finalist_runs: dict[str, int]) -> float | None:
        """Seconds left to start a searched trial of ``category`` that ends before the search deadline (negative:
        too late); None while no warm trial has measured what a trial costs."""
        expected = self.trial_s(category) if self._warm_measured() else None
        if expected is None:
            return None
        return self.left() - self.finalist_reserve_s(planned_finalist_runs) - expected

    def is_urgent(self, category: str, planned_finalist_runs: dict[str, int]) -> bool:
        """Whether ``category``'s last chance to start a searched trial comes within half of one of its trials:
        a slot freed later would be too late for it, so (when it has started fewer trials than another
        category, :class:`search.searcher.SweepSearcher`) it goes before fairer shares: a category with slow
        trials gets fewer of them, but is not shut out while faster ones catch up in slot time."""
        slack = self.start_slack_s(category, planned_finalist_runs)
        expected = self.trial_s(category)
        return slack is not None and expected is not None and 0 <= slack < URGENT_SHARE * expected

    def _warm_measured(self) -> bool:
        return any(self.first_result_s.values())

    def finalist_allows(self, category: str) -> bool:
        """Whether a finalist run of ``category`` started now is expected to end within the budget."""
        expected = self.trial_s(category)
        return expected is None and not self.expired() or expected is not None and expected <= self.left()

    def search_ended(self, category: str, reason: str) -> None:
        spent = self.spending.setdefault(category, CategorySpending())
        if not spent.search_ended:
            spent.search_ended = reason

    def record(self, closing: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """What the budget bought, for the sweep's record (``budget.json``) and ``show``. ``closing``: per
        category, ``finalists`` (why it ran none) and ``interrupted``, known once the sweep has stopped
        (:func:`search.budget_notes.closing_notes`); the record then becomes :attr:`final_record`."""
        closing = closing or {}
        record = {
            "budget_s": self.seconds,
            "resumed": self.resumed,
            "sweep_s": round(self.elapsed(), 2),
            "startup_s": None if self.opened_at is None or self.started_at is None
            else round(self.started_at - self.opened_at, 2),
            "categories": {category: self._category_record(category, closing.get(category, {}))
                           for category in sorted(self.spending)},
        }
        if closing:
            self.final_record = record
        return record

    def _category_record(self, category: str, closing: Mapping[str, Any]) -> dict[str, Any]:
        spent = self.spending[category]
        searching = ("interrupted" if closing.get("interrupted") else "time budget") if closing else "still searching"
        entry = {"slot_seconds": round(self.used_s(category), 2), "trials": spent.trials,
                 "finalist_runs": spent.finalist_runs, "stopped_by_budget": spent.stopped_by_budget,
                 "search_ended": spent.search_ended or searching}
        if not spent.finalist_runs and closing.get("finalists"):
            entry["no_finalists"] = closing["finalists"]
        return entry


def _pooled(samples: dict[str, list[float]]) -> list[float]:
    return [value for values in samples.values() for value in values]
