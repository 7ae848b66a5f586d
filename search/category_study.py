"""What a category's study runs next: resumed trials, the base config, warm starts, TPE, finalists.

:class:`CategoryStudy` wraps one category's Optuna study (:mod:`search.studies`)
for the driver. Order of work:

1. trials a previous driver left running, from their last checkpoint;
2. enqueued trials (:mod:`search.start_trials`): portfolio configs
   (``--portfolio``), the base config, then warm starts;
3. TPE proposals until ``num_samples`` searched trials exist, or, on a time
   budget (:mod:`search.time_budget`), until the next one would not end
   before the search deadline or the search has converged
   (:mod:`search.convergence`);
4. once every searched trial has ended, ``finalists`` runs: the top configs by
   the selection objective (full budget, not diverged), each retrained with
   ``finalist_seeds`` other training seeds, so the export can pick by the mean
   over seeds instead of by one lucky run. On a time budget only the top
   configs within the seed noise of the best are retrained.

The driver is the only writer of a study while it runs, so the state kept
here mirrors the database; the database is read once, when the study opens.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Callable, Iterable

import optuna
from optuna.trial import FrozenTrial, TrialState

from search import studies
from search.convergence import NOISE_PRIOR, remaining_gain, within_noise
from search.options import SweepOptions
from search.outcomes import Outcome, optuna_closing
from search.start_trials import start_trials
from search.studies import ROLE_FINALIST, ROLE_SEARCH, ROLE_WARM, SEARCH_ROLES, TrialSpec, applied_values, attr
from spaces.optuna_distributions import decode_params, distributions, params_from_values

class CategoryStudy:
    """One category's study as the driver plans and records it."""

    def __init__(self, study: optuna.Study, category: str, options: SweepOptions,
                 resume_point: Callable[[str, list[str]], str], noise: float = NOISE_PRIOR) -> None:
        """``resume_point(key, trial_dirs)``: the checkpoint a trial left running resumes from ("" = start);
        ``noise``: the objective's seed std (:func:`search.convergence.seed_noise`), used on a time budget."""
        self.study = study
        self.category = category
        self.options = options
        self.noise = noise
        self.sample_limit = options.num_samples  # lowered when a time-budgeted search ends early
        self.search_end = ""  # why the search ended before sample_limit: converged | time budget
        self.space = distributions(options.space)
        self.trials: dict[str, FrozenTrial] = {}  # key -> latest known state
        self.resume: deque[TrialSpec] = deque()
        self.running: set[str] = set()
        self._resume_point = resume_point
        self._waiting: list[FrozenTrial] | None = None  # enqueued trials, read again after an enqueue or ask
        for trial in study.get_trials(deepcopy=False):
            if attr(trial, "key"):
                self.trials[attr(trial, "key")] = trial
                if trial.state == TrialState.RUNNING:
                    self.resume.append(self._spec(trial, resume=True))

    # Planning ---------------------------------------------------------------------------------------------

    def enqueue_start(self, warm: Iterable[tuple[dict[str, Any], str]]) -> None:
        """Enqueue a fresh study's start trials (:func:`search.start_trials.start_trials`: portfolio configs,
        the base config, then ``warm`` (values, source) configs)."""
        for trial in start_trials(self.options, warm):
            self._enqueue(trial.applied, trial.values, trial.role, trial.source)

    def offer(self, values: dict[str, Any], source: str) -> bool:
        """Enqueue a config of another category as a warm start if this search still has room for it."""
        if self.searched() >= self.sample_limit or self.waiting(SEARCH_ROLES):
            return False
        params = params_from_values(self.options.space, values)
        known = [trial.params for trial in [*self.trials.values(), *self._waiting_trials()]]
        if not params or params in known:
            return False
        self._enqueue(decode_params(self.options.space, params), values, ROLE_WARM, source)
        return True

    def _enqueue(self, applied: dict[str, Any], source_values: dict[str, Any], role: str, source: str) -> None:
        params = params_from_values(self.options.space, source_values)
        self._waiting = None
        self.study.enqueue_trial(params, user_attrs={"role": role, "source": source, "fixed": sorted(params),
                                                     "values": json.dumps(applied, sort_keys=True)})

    def _distributions(self) -> dict[str, Any]:
        """What the next ask samples: for an enqueued trial, only the parameters it fixes.

        A base config whose value is not one of the space's choices trains with
        its own value; its trial then records no value for that parameter rather
        than one it did not train with.
        """
        waiting = self._waiting_trials()
        if not waiting:
            return self.space
        fixed = attr(min(waiting, key=lambda trial: trial.number), "fixed")
        return self.space if fixed is None else {name: self.space[name] for name in fixed}

    def finalist_parents(self) -> list[FrozenTrial]:
        """The configs to retrain with other seeds: the top ``finalists``; on a time budget only those within
        the seed noise of the best (none when the best leads by more: :func:`search.convergence.within_noise`)."""
        top = self.top_configs(self.options.finalists)
        if self.options.time_budget_s and len(self.study.directions) == 1:
            top = top[:within_noise([trial.values[0] for trial in top], self.noise)]
        return top

    def _plan_finalists(self) -> None:
        """Enqueue the finalist runs of the current top configs that do not exist yet."""
        for parent in self.finalist_parents():
            for offset in range(1, self.options.finalist_seeds + 1):
                seed = int(attr(parent, "seed", self.options.base.seed)) + offset
                key = studies.finalist_key(attr(parent, "key"), seed)
                if key in self.trials or any(attr(t, "key") == key for t in self._waiting_trials()):
                    continue
                self._waiting = None
                self.study.enqueue_trial(parent.params, user_attrs={
                    "role": ROLE_FINALIST, "parent": attr(parent, "key"), "seed": seed, "key": key,
                    "fixed": sorted(parent.params),
                    "values": attr(parent, "values", "{}"), "source": f"finalist of {attr(parent, 'key')}"})

    # Starting trials --------------------------------------------------------------------------------------

    def can_start(self) -> bool:
        """Whether a trial of this category could start now."""
        if self.resume or self.waiting():
            return True
        if self.searched() < self.sample_limit:
            return True
        if self.search_running() or not self.options.finalist_runs:
            return False
        self._plan_finalists()
        return bool(self.waiting())

    def next_trial(self, trial_dir: Callable[[str], str]) -> TrialSpec | None:
        """The spec of the next trial, recorded as running; ``trial_dir(key)`` is where its checkpoints go."""
        if self.resume:
            spec = self.resume.popleft()
            trial = self.trials[spec.key]
        elif self.can_start():
            number = len(self.study.get_trials(deepcopy=False))
            sampler = studies.sampler_for(self.options, self.category, number)
            trial = studies.ask(self.study, sampler, self._distributions())
            self._waiting = None
            trial = self._claim(trial)
            spec = self._spec(trial, resume=False)
        else:
            return None
        studies.set_trial_attr(self.study, trial, "trial_dirs", [*attr(trial, "trial_dirs", []), trial_dir(spec.key)])
        self.trials[spec.key] = studies.fetch(self.study, trial)
        self.running.add(spec.key)
        return spec

    def _claim(self, trial: optuna.Trial) -> FrozenTrial:
        """Give a just-asked trial its key, role, seed and applied values (enqueued ones bring some)."""
        attrs = trial.user_attrs
        role = attrs.get("role", ROLE_SEARCH)
        defaults = {
            "key": studies.trial_key(self.category, trial.number),
            "role": role,
            "seed": self.options.base.seed,
            "values": json.dumps(decode_params(self.options.space, trial.params), sort_keys=True),
        }
        for name, value in defaults.items():
            if name not in attrs:
                trial.set_user_attr(name, value)
        return studies.fetch(self.study, trial)

    def _spec(self, trial: FrozenTrial, resume: bool) -> TrialSpec:
        checkpoint = self._resume_point(attr(trial, "key"), list(attr(trial, "trial_dirs", []))) if resume else ""
        return TrialSpec(self.category, attr(trial, "key"), trial.number, attr(trial, "role", ROLE_SEARCH),
                         int(attr(trial, "seed", self.options.base.seed)), attr(trial, "parent", ""),
                         applied_values(trial), checkpoint)

    # Recording --------------------------------------------------------------------------------------------

    def report(self, key: str, epoch: int, objective: float) -> None:
        trial = self.trials[key]
        if len(self.study.directions) == 1 and epoch not in trial.intermediate_values:
            studies.report(self.study, trial, epoch, objective)
            self.trials[key] = studies.fetch(self.study, trial)

    def complete(self, key: str, outcome: Outcome) -> None:
        """Close trial ``key`` with ``outcome`` (a trial closed already stays as it is)."""
        trial = studies.fetch(self.study, self.trials[key])  # as stored: another process may have closed it
        self.running.discard(key)
        self.trials[key] = trial
        if trial.state != TrialState.RUNNING:
            return
        if outcome.status == "pruned" and outcome.objective is not None:
            self.report(key, outcome.epoch, outcome.objective)
        studies.set_trial_attr(self.study, trial, "outcome", outcome.status)
        state, values = optuna_closing(outcome, multi_objective=len(self.study.directions) > 1)
        studies.tell(self.study, trial, state, values)
        self.trials[key] = studies.fetch(self.study, trial)

    # Reading ----------------------------------------------------------------------------------------------

    def _waiting_trials(self) -> list[FrozenTrial]:
        # Read on every scheduling decision otherwise: with dozens of slots the
        # driver spent most of its time re-reading the database.
        if self._waiting is None:
            self._waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return self._waiting

    def waiting(self, roles: tuple[str, ...] | None = None) -> int:
        return sum(1 for trial in self._waiting_trials() if roles is None or attr(trial, "role", ROLE_SEARCH) in roles)

    def searched(self) -> int:
        """Searched trials that exist (base, warm starts and TPE's; waiting ones included)."""
        started = sum(1 for trial in self.trials.values() if attr(trial, "role") in SEARCH_ROLES)
        return started + self.waiting(SEARCH_ROLES)

    def search_running(self) -> bool:
        return any(attr(self.trials[key], "role") in SEARCH_ROLES for key in self.running) or bool(
            [spec for spec in self.resume if spec.role in SEARCH_ROLES])

    def search_done(self) -> bool:
        """Every searched trial exists and has ended."""
        return self.searched() >= self.sample_limit and not self.search_running() and not self.waiting(
            SEARCH_ROLES)

    def next_is_search(self) -> bool:
        """Whether the next trial to start would be a searched one (not a resumed trial or a finalist run)."""
        if self.resume:
            return False
        waiting = self._waiting_trials()
        if waiting:
            return attr(min(waiting, key=lambda trial: trial.number), "role", ROLE_SEARCH) in SEARCH_ROLES
        return self.searched() < self.sample_limit

    def end_search(self, reason: str) -> None:
        """Start no more searched trials (``reason``: converged | time budget); enqueued ones are skipped.

        Skipped trials are asked and closed as failed with outcome ``skipped``, so
        they neither run later nor count as results.
        """
        if self.search_end or self.searched() - self.waiting(SEARCH_ROLES) >= self.sample_limit:
            return
        self.search_end = reason
        for _ in range(self.waiting(SEARCH_ROLES)):
            trial = studies.ask(self.study, studies.sampler_for(self.options, self.category, 0), self._distributions())
            trial.set_user_attr("outcome", "skipped")
            studies.tell(self.study, trial, TrialState.FAIL, None)
            self._waiting = None
        self.sample_limit = self.searched()

    def check_converged(self) -> bool:
        """End the search when its remaining expected gain is below the noise (time-budgeted, single
        objective; :func:`search.convergence.remaining_gain`); whether it ended."""
        if not self.options.time_budget_s or self.search_end or len(self.study.directions) > 1:
            return False
        gain = remaining_gain(self._finished_searched())
        if gain is None or gain >= self.noise:
            return False
        self.end_search("converged")
        return True

    def finished(self) -> bool:
        """Nothing left to run: the search has ended and every finalist run too."""
        return self.search_done() and not self.running and not self.resume and not self.can_start()

    def top_configs(self, count: int) -> list[FrozenTrial]:
        """The ``count`` best searched trials that ran the full budget and did not diverge, best first."""
        return sorted(self._finished_searched(), key=lambda trial: (-trial.values[0], trial.number))[:count]

    def _finished_searched(self) -> list[FrozenTrial]:
        """Searched trials that ran their full budget and did not diverge."""
        return [trial for trial in self.trials.values() if attr(trial, "role") in SEARCH_ROLES
                and attr(trial, "outcome") == "finished" and trial.state == TrialState.COMPLETE]

    def best_values(self) -> dict[str, Any] | None:
        """The applied config values of the best finished searched trial, for warm-starting other categories."""
        top = self.top_configs(1)
        return applied_values(top[0]) if top else None
