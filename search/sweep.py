"""A sweep: every category's study in one Ray Tune experiment, sharing the cluster.

The driver reads every category's images once (:func:`plan_categories`), puts
them in Ray's object store, opens one Optuna study per category
(:mod:`search.studies`) and runs one Tune experiment whose searcher
(:class:`search.searcher.SweepSearcher`) hands out the categories' trials
fairly and whose scheduler (:class:`search.scheduler.SweepScheduler`) keeps one
ASHA per category: no category waits for another's last trials, no study learns across categories.

A resumed sweep (``--resume``) is a new Tune run over the same studies: the
studies say which trials have ended (never run again) and which were running
(resumed from their last checkpoint), the results store gives ASHA back its
rung records, and the sampler continues from the stored trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import ray
from ray import tune
from ray.tune import CheckpointConfig, FailureConfig, RunConfig, TuneConfig, Tuner

from results.store import ResultStore
from search import studies, sweep_record
from search.category_study import CategoryStudy
from search.budget_notes import closing_notes
from search.checkpoints import latest_checkpoint
from search.convergence import NOISE_PRIOR, seed_noise
from search.options import SweepOptions, experiment_path
from search.reconcile import reconcile, rung_history, stored_epochs
from search.scheduler import SweepScheduler
from search.searcher import SweepSearcher
from search.store_callback import StoreCallback, WriteFailureStop
from search.time_budget import TimeBudget
from search.space_checks import check_space, input_variants
from search.trainable import TrialSetup, describe_variant, run_trial, trial_config, variant_key
from search.warm_start import earlier_bests, warm_configs
from spaces.space import SearchSpace
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData, plan_splits, prepare_data, tuned_label_free
from ssflow.errors import UserInputError, WriteFailed
from ssflow.settings.flat_config import config_from_flat
from ssflow.datasets.leakage import Leak, leak_line, split_leaks
from ssflow.redaction import redacted
from ssflow.training.run_inputs import cache_spec

@dataclass(frozen=True)
class CategoryPlan:
    """One category as the driver prepared it: one :class:`PreparedData` per data variant."""

    category: str
    setup: TrialSetup
    variants: dict[str, PreparedData]  # by search.trainable.variant_key
    label_free: bool  # tuned on synthetic validation anomalies only (no real defect in its objective)
    leaks: tuple[Leak, ...] = ()  # test images that copy training images, when --allow-leakage let them pass

    @property
    def data(self) -> PreparedData:
        """The base config's variant (the one every category has)."""
        return self.variants[variant_key(self.setup.base)]


@dataclass(frozen=True)
class CategoryOutcome:
    category: str
    complete: bool  # every trial ended, finalists included, or the time budget ended it (False after an interrupt)
    statuses: dict[str, int]  # finished / pruned / diverged / failed / unfinished trial counts
    ended_on_budget: bool = False  # the time budget ended it with trials it would otherwise have run


def category_base(options: SweepOptions, category: str) -> tuple[SSFlowConfig, bool]:
    """The base config of a category (the space's fixed values applied, the category set) and whether it
    is tuned label-free: with ``--objective synthetic``, or for a category without any anomalous test image.
    """
    base = tuned_label_free(config_from_flat({**options.space.fixed_values(), "data.category": category},
                                             options.base), options.objective == "synthetic")
    return base, base.validation.label_free


def plan_categories(options: SweepOptions, categories: Sequence[str]) -> list[CategoryPlan]:
    """Read every category's images on the driver and build what its trials share.

    Every category's layout and splits are checked first (no pixel read), so a
    category that cannot be scored stops the sweep in one line before any
    image is read or any Ray work starts. Then test images that copy training
    images are looked for (:mod:`ssflow.datasets.leakage`). Raises ``UserInputError`` for a space
    that varies shared keys, a category whose data cannot be read or split
    into scorable parts, or leakage without ``options.allow_leakage``.
    """
    check_space(options)
    bases = _checked_bases(options, categories)
    leaks = _checked_leakage(options, bases)
    plans = []
    for category, (base, label_free) in bases.items():
        variants, caches = {}, {}
        configs = input_variants(options, base)
        for config in configs:
            key = variant_key(config)
            variants[key] = _prepared(config, category, named=len(configs) > 1)
            caches[key] = cache_spec(options.feature_cache, config, variants[key],
                                     share_bank=bank_is_shared(options.space)) if options.feature_cache else None
        setup = TrialSetup(base=base, max_epochs=options.max_epochs, device=options.device, caches=caches)
        plans.append(CategoryPlan(category, setup, variants, label_free, tuple(leaks[category])))
    return plans


def _checked_leakage(options: SweepOptions, bases: Mapping[str, tuple[SSFlowConfig, bool]]
                     ) -> dict[str, list[Leak]]:
    """Each category's leaks; refused (all categories named in one line) unless ``--allow-leakage``."""
    leaks = {category: split_leaks(plan_splits(base)) for category, (base, _) in bases.items()}
    problems = [leak_line(found, category) for category, found in leaks.items() if found]
    if problems and not options.allow_leakage:
        more = f"; and {len(problems) - LISTED_PROBLEMS} more" if len(problems) > LISTED_PROBLEMS else ""
        raise UserInputError(f"{' | '.join(problems[:LISTED_PROBLEMS])}{more}: every metric would be inflated; "
                             "remove them from one side, or pass --allow-leakage")
    return leaks


def _prepared(config: SSFlowConfig, category: str, named: bool) -> PreparedData:
    """The category read as ``config``'s inputs; with ``named``, a refusal names the input values it was read with."""
    try:
        return prepare_data(config)
    except UserInputError as error:
        if not named:
            raise
        raise UserInputError(f"{category} with {describe_variant(config)}: {error}") from None


LISTED_PROBLEMS = 3  # categories named in one error; the rest are counted


def _checked_bases(options: SweepOptions, categories: Sequence[str]) -> dict[str, tuple[SSFlowConfig, bool]]:
    """Every category's base config, after checking its layout and splits (no pixel read).

    All categories are checked before anything is refused, so one error names
    every category that cannot be used (a few by name, then a count).
    """
    bases, problems = {}, []
    for category in categories:
        try:
            bases[category] = category_base(options, category)
            plan_splits(bases[category][0])
        except UserInputError as error:
            problems.append(f"{category}: {error}")
    if len(problems) == 1:
        raise UserInputError(problems[0].split(": ", 1)[1])
    if problems:
        more = f"; and {len(problems) - LISTED_PROBLEMS} more" if len(problems) > LISTED_PROBLEMS else ""
        raise UserInputError(f"{len(problems)} of {len(categories)} categories cannot be used "
                             f"(leave them out with --categories): {' | '.join(problems[:LISTED_PROBLEMS])}{more}")
    return bases


def bank_is_shared(space: SearchSpace) -> bool:
    """Whether trials can share one synthetic bank on disk: no synthesis setting is sampled.

    A space that samples synthesis settings gives every trial its own bank, which
    is then kept in memory only: written to disk it would never be read again and
    would cost tens of MB per trial. Finalists (other seeds) build one bank per seed.
    """
    return not any(p.name.startswith("synthesis.") for p in space.searched())


def check_name(options: SweepOptions) -> None:
    """A new sweep must not reuse a name; a resumed one must exist and keep its fixed settings."""
    stored = sweep_record.read_sweep_record(options)
    if options.resume:
        if stored is None:
            raise UserInputError(f"--resume --name {options.name}: no such sweep in {redacted(options.storage)} "
                                 "(see 'ssflow-search show --storage ...')")
        sweep_record.check_resume(options, stored)
    elif stored is not None:
        raise UserInputError(f"--name {options.name}: a sweep of that name exists in {redacted(options.storage)}; "
                             "continue it with --resume or pick another --name")


def _store_seed_noise(store: ResultStore, dataset: str) -> float:
    """:func:`seed_noise` of the store, reading only ``dataset``'s rows when they have finalist spreads
    (a store of many sweeps is large; the whole store is read only when that dataset has none)."""
    noise = seed_noise(store.read(dataset=dataset))
    return noise if noise != NOISE_PRIOR else seed_noise(store.read(), dataset)


def _open_studies(options: SweepOptions, plans: Sequence[CategoryPlan], rows: pd.DataFrame
                  ) -> dict[str, CategoryStudy]:
    storage = studies.open_storage(studies.storage_url(options))
    store = ResultStore(options.storage)
    bests = earlier_bests(store, options.warm_start, options.base.data.dataset) \
        if options.warm_start and not options.resume else {}
    noise = _store_seed_noise(store, options.base.data.dataset) if options.time_budget_s else NOISE_PRIOR
    opened = {}
    for plan in plans:
        study = studies.load_or_create(storage, options, plan.category)
        stored = stored_epochs(rows, plan.category)
        category_study = CategoryStudy(study, plan.category, options,
                                       lambda key, dirs, stored=stored: latest_checkpoint(dirs, stored.get(key, 0)),
                                       noise=noise)
        if not category_study.trials and not category_study.waiting():
            category_study.enqueue_start(warm_configs(bests, plan.category, options.warm_start) if bests else [])
        opened[plan.category] = category_study
    return opened


def _trainable(options: SweepOptions, plans: Sequence[CategoryPlan], trainable: Callable[..., None]) -> Any:
    setups = {plan.category: plan.setup for plan in plans}
    data = {plan.category: {key: ray.put(variant) for key, variant in plan.variants.items()}
            for plan in plans}  # one object per category and data variant
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(trainable, setups=setups, data=data), resources)


def sweep_budget(options: SweepOptions) -> TimeBudget | None:
    """The time budget ``options`` ask for (its clock not started), or None."""
    if not options.time_budget_s:
        return None
    return TimeBudget(options.time_budget_s, options.concurrency, options.max_epochs, resumed=options.resume)


def run_sweep(options: SweepOptions, plans: Sequence[CategoryPlan], callbacks: Sequence[Any] = (),
              trainable: Callable[..., None] = run_trial, budget: TimeBudget | None = None) -> list[CategoryOutcome]:
    """Run (or resume) every category's study until all trials have ended, the time budget is spent or the
    driver is interrupted.

    Needs a connected Ray (``search.cluster.connect``). ``trainable`` is the
    trial function (``run_trial``; tests and benchmarks pass stand-ins with its
    signature). ``budget``: the time budget to run on (default:
    :func:`sweep_budget`; pass one to watch its clock); its clock starts here,
    and what it bought is written to ``budget.json`` in the experiment folder.
    """
    budget = budget or sweep_budget(options)
    if budget is None:
        sweep_record.remove_budget(options)  # a run without a budget: an earlier run's record no longer describes it
    store = ResultStore(options.storage)
    rows = store.read(experiment=options.name) if options.resume else pd.DataFrame()
    category_studies = _open_studies(options, plans, rows)
    if not options.resume:
        # Only now: a sweep that failed to start (bad database, unknown warm start) must not take its name.
        sweep_record.write_sweep_record(options, [plan.category for plan in plans])
    setups = {plan.category: plan.setup for plan in plans}
    scheduler = SweepScheduler(setups, options.max_epochs, options.grace_period, options.reduction_factor, budget)
    if options.resume:
        reconcile(store, rows, category_studies, options)
        scheduler.replay(rung_history(rows, list(setups)))
    searcher = SweepSearcher(category_studies, options.max_epochs, options.concurrency,
                             trial_dir=lambda key, trial_id: f"{experiment_path(options)}/{key}-{trial_id}",
                             budget=budget)
    store_callback = StoreCallback(store, options.name, options.max_epochs,
                                   resolve=lambda spec: trial_config(spec, setups[spec["category"]]))
    tuner = Tuner(
        _trainable(options, plans, trainable),
        tune_config=TuneConfig(
            search_alg=searcher, scheduler=scheduler, num_samples=-1, max_concurrent_trials=options.concurrency,
            reuse_actors=True,
            trial_dirname_creator=lambda trial: f"{trial.config['key']}-{trial.trial_id}",
        ),
        run_config=RunConfig(
            name=options.name,
            storage_path=f"{options.storage.rstrip('/')}/ray",
            callbacks=[store_callback, *callbacks],
            stop=WriteFailureStop(store_callback),
            failure_config=FailureConfig(max_failures=options.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    )
    if budget is not None:
        budget.start()
    try:
        tuner.fit()
    except OSError as error:  # Tune's own experiment state: the same stop as a store write
        store_callback.write_failure = store_callback.write_failure or error
    finally:
        if budget is not None:
            try:
                sweep_record.write_budget(options, budget.record(closing_notes(category_studies, not budget.expired())))
            except OSError as error:
                store_callback.write_failure = store_callback.write_failure or error
    if store_callback.write_failure is not None:
        raise WriteFailed(write_failure_line(store_callback.write_failure, options.name))
    return [outcome(category, study, budget) for category, study in category_studies.items()]


def write_failure_line(error: OSError, name: str) -> str:
    """The one line a sweep stopped by a failed write ends with: what failed, and the resume command."""
    where = f" ({error.filename})" if error.filename else ""
    return (f"the sweep stopped: a write failed{where}: {error.strerror or error}; everything recorded before is "
            f"kept: free space (or fix the permission), then run the same command plus --resume --name {name}")


def outcome(category: str, study: CategoryStudy, budget: TimeBudget | None = None) -> CategoryOutcome:
    counts: dict[str, int] = {}
    for trial in study.trials.values():
        status = studies.attr(trial, "outcome", "unfinished")
        counts[status] = counts.get(status, 0) + 1
    on_budget = budget is not None and not study.finished() and not study.running and (
        budget.expired() or bool(study.search_end))
    return CategoryOutcome(category, study.finished() or on_budget, counts, on_budget)
