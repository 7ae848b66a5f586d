"""One Tune experiment per category: Optuna TPE proposes, ASHA prunes, the store records.

Each category is its own study: its own searcher, scheduler and experiment
folder, so ASHA never compares trials of different categories and TPE never
learns one category's optimum from another's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from ray import tune
from ray.tune import CheckpointConfig, FailureConfig, RunConfig, TuneConfig, Tuner
from ray.tune.schedulers import ASHAScheduler

from results.store import ResultStore
from search.searcher import BudgetAwareOptunaSearch
from search.store_callback import StoreCallback
from search.trainable import OBJECTIVE, TIME_ATTR, TrialSetup, run_trial, trial_config
from spaces.space import SearchSpace
from spaces.tune_domains import to_tune_param_space
from ssflow.config import SSFlowConfig, config_from_flat
from ssflow.data import PreparedData, prepare_data
from ssflow.errors import UserInputError


@dataclass(frozen=True)
class SweepOptions:
    base: SSFlowConfig  # dataset, data root, seed and every setting the space leaves fixed
    space: SearchSpace
    name: str
    storage: str  # folder or URI: results/ and ray/ live below it
    num_samples: int = 12
    max_epochs: int = 8
    grace_period: int = 1  # as the command's --grace-period
    reduction_factor: int = 3
    concurrency: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2  # retries per trial, each from its last checkpoint
    device: str = "auto"
    resume: bool = False
    feature_cache: str = ""  # folder shared by the trials of a node; empty: no cache


@dataclass(frozen=True)
class CategoryOutcome:
    category: str
    complete: bool  # every trial terminated (False after an interrupt)
    statuses: dict[str, int]  # terminated / errored / unfinished trial counts


def experiment_name(options: SweepOptions, category: str) -> str:
    return f"{options.name}-{category}"


def experiment_path(options: SweepOptions, category: str) -> str:
    return f"{options.storage.rstrip('/')}/ray/{experiment_name(options, category)}"


# Every trial of a category shares one copy of its images, so these cannot vary per trial.
SHARED_DATA_KEYS = ("backbone.image_size", "data.shots", "data.selection_fraction", "data.dataset",
                    "data.category", "data.root", "seed")


def category_setup(options: SweepOptions, category: str) -> TrialSetup:
    """The base config of a category: the space's fixed values applied, the category set."""
    varied = [p.name for p in options.space.searched() if p.name in SHARED_DATA_KEYS]
    if varied:
        raise UserInputError(f"space {options.space.name}: {', '.join(varied)} can only be fixed, not searched "
                             "(every trial of a category shares its images and splits)")
    base = config_from_flat({**options.space.fixed_values(), "data.category": category}, options.base)
    return TrialSetup(base=base, space=options.space, max_epochs=options.max_epochs, device=options.device,
                      feature_cache=options.feature_cache)


def _searcher(options: SweepOptions, category: str) -> BudgetAwareOptunaSearch | None:
    """Seeded TPE; None (Tune's plain generator) when the space fixes everything.

    ``TuneConfig(max_concurrent_trials=...)`` puts either under the concurrency limit.
    """
    if not options.space.searched():
        return None
    seed = (options.base.seed * 1_000_003 + zlib.crc32(category.encode())) % 2**31
    return BudgetAwareOptunaSearch(metric=OBJECTIVE, mode="max", seed=seed, max_epochs=options.max_epochs)


def _grace_period(options: SweepOptions) -> int:
    """Ray's ASHA needs a grace period within the budget; a longer one means no pruning."""
    return min(options.grace_period, options.max_epochs)


def pruning_rungs(options: SweepOptions) -> list[int]:
    """The epochs at which ASHA may stop a trial, as Ray places them (grace period x reduction factor^k).

    A trial promoted past the last of them trains to the full budget, so the
    share of compute ASHA saves depends on how far below the budget that rung is.
    """
    grace = _grace_period(options)
    count = int(np.log(options.max_epochs / grace) / np.log(options.reduction_factor) + 1)
    milestones = (grace * options.reduction_factor ** k for k in range(count))
    return [epoch for epoch in milestones if epoch < options.max_epochs]


def _scheduler(options: SweepOptions) -> ASHAScheduler:
    return ASHAScheduler(
        time_attr=TIME_ATTR, metric=OBJECTIVE, mode="max", max_t=options.max_epochs,
        grace_period=_grace_period(options), reduction_factor=options.reduction_factor,
    )


def _trainable(options: SweepOptions, setup: TrialSetup, data: PreparedData) -> Any:
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(run_trial, setup=setup, data=data), resources)


def _tuner(options: SweepOptions, category: str, data: PreparedData, callbacks: Sequence[Any]) -> Tuner:
    setup = category_setup(options, category)
    trainable = _trainable(options, setup, data)
    path = experiment_path(options, category)
    if options.resume and Tuner.can_restore(path):
        return Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True)
    store_callback = StoreCallback(
        ResultStore(options.storage), options.name, options.max_epochs,
        resolve=lambda params: trial_config(params, setup),
    )
    return Tuner(
        trainable,
        param_space=to_tune_param_space(options.space),
        tune_config=TuneConfig(
            search_alg=_searcher(options, category),
            scheduler=_scheduler(options),
            num_samples=options.num_samples,
            max_concurrent_trials=options.concurrency,
            trial_dirname_creator=lambda trial: trial.trial_id,
        ),
        run_config=RunConfig(
            name=experiment_name(options, category),
            storage_path=f"{options.storage.rstrip('/')}/ray",
            callbacks=[store_callback, *callbacks],
            failure_config=FailureConfig(max_failures=options.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    )


def run_category(options: SweepOptions, category: str, callbacks: Sequence[Any] = ()) -> CategoryOutcome:
    """Run (or resume) the study of one category; returns when every trial has ended or on interrupt."""
    setup = category_setup(options, category)
    data = prepare_data(setup.base.data, setup.base.backbone.image_size)
    grid = _tuner(options, category, data, callbacks).fit()
    # After an interrupt Tune lists stopped and never-started trials as TERMINATED
    # too; only a trial whose last result says done (finished, pruned or failed
    # as a result) has really ended.
    done = sum(1 for result in grid if result.error is None and (result.metrics or {}).get("done") is True)
    ended = done + grid.num_errors
    statuses = {"terminated": done, "errored": grid.num_errors, "unfinished": len(grid) - ended}
    return CategoryOutcome(category, ended >= options.num_samples, statuses)
