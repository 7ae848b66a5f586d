"""Every flag of the sweep command, declared once: how it is parsed and checked, the setting it fills, and
whether a resumed sweep may change it.

The parser (:func:`add_sweep_flags`), the checks before any work (:func:`check_flag_values`), the
:class:`~search.options.SweepOptions` of a run (:func:`option_values`) and the sweep record's settings that a
resume must keep (:func:`fixed_on_resume`) are all read from :data:`SWEEP_FLAGS`. A new flag is one row; a
row that fills an option names a :class:`~search.options.SweepOptions` field (tests check both ways).
Light imports only: ``--help`` reads this table without Ray, Optuna or torch.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from search.durations import parse_duration
from search.options import OBJECTIVES, UNLIMITED_SAMPLES, SweepOptions
from spaces.space import SearchSpace
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets import DATASETS
from ssflow.errors import UserInputError

DEFAULT_SAMPLES = 12  # searched trials per category without --num-samples or --time-budget
FIXED, MAY_CHANGE = "fixed", "may change"  # on --resume


class SweepContext(NamedTuple):
    """What option values may depend on besides the flags: the base config, the space, the cluster."""

    base: SSFlowConfig
    space: SearchSpace
    resources: Mapping[str, float]  # Ray's totals (CPU, GPU); {} while planning, before Ray starts


# A row's check: the expectation a value misses ("a value > 0"), or None when it is fine.
Check = Callable[[Any], "str | None"]
# A row's resolver: the option fields a parsed value (and the other flags, the context) fill.
Resolve = Callable[[Any, argparse.Namespace, SweepContext], Mapping[str, Any]]
# A row's stored value in the sweep record, read from the options.
Stored = Callable[[SweepOptions], Any]


@dataclass(frozen=True)
class SweepFlag:
    """One row of the table: ``flag``, its argparse keywords, the option it fills, resume rule, check."""

    flag: str
    help: str = ""
    parse: Mapping[str, Any] = field(default_factory=dict)  # argparse keywords besides help
    option: str = ""  # the SweepOptions field it fills; "" for flags the command reads itself (--dataset, --name)
    resume: str = MAY_CHANGE  # FIXED: a resumed sweep must be given the value it was started with
    check: Check | None = None
    resolve: Resolve | None = None  # default: {option: the parsed value}
    stored: Stored | None = None  # default: the option's value

    @property
    def dest(self) -> str:
        """The attribute argparse stores the value under."""
        return self.flag.lstrip("-").replace("-", "_")


def above_zero(value: Any) -> str | None:
    """A check: ``value`` > 0 (or not given)."""
    return None if value is None or value > 0 else "a value > 0"


def at_least(limit: int) -> Check:
    """A check: ``value`` >= ``limit`` (or not given)."""
    def check(value: Any) -> str | None:
        return None if value is None or value >= limit else f"an integer >= {limit}"
    return check


def not_negative(value: Any) -> str | None:
    """A check: ``value`` >= 0 (or not given)."""
    return None if value is None or value >= 0 else "a value >= 0"


def _num_samples(value: int | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    if value is not None:
        return {"num_samples": value}
    return {"num_samples": UNLIMITED_SAMPLES if args.time_budget is not None else DEFAULT_SAMPLES}


def _time_budget(value: str | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    return {"time_budget_s": parse_duration(value) if value is not None else 0.0}


def _portfolio(value: str | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    if not value:
        return {"portfolio": (), "portfolio_source": ""}
    from results.portfolio import read_portfolio  # pandas comes with it: not for --help

    return {"portfolio": tuple(read_portfolio(Path(value), context.base)), "portfolio_source": Path(value).name}


def _max_epochs(value: int | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    fixed = context.space.fixed_values().get("train.epochs", context.base.train.epochs)
    return {"max_epochs": value or int(fixed)}


def _concurrency(value: int | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    return {"concurrency": value or max(1, int(context.resources.get("CPU", 1) // args.cpus_per_trial))}


def _gpus(value: float | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    return {"gpus_per_trial": value if value is not None else (1.0 if context.resources.get("GPU") else 0.0)}


def _storage(value: str, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    return {"storage": value if "://" in value else str(Path(value).resolve())}


def _feature_cache(value: str | None, args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    if value == "off":
        return {"feature_cache": ""}
    if value:
        return {"feature_cache": str(Path(value).resolve())}
    if "://" in args.storage:
        return {"feature_cache": str(Path.home() / ".cache" / "ssflow" / "features")}
    return {"feature_cache": str(Path(args.storage).resolve() / "feature_cache")}


def _text(option: str) -> Resolve:
    """An optional text flag whose absence is the empty string."""
    return lambda value, args, context: {option: value or ""}


SPACES_HELP = "space YAML or a shipped name (default, wide, paper, demo, backbones, highres)"
DATA_ROOT_HELP = "dataset folder in its official layout (a .csv or .parquet file for manifest)"  # train's too
LEAKAGE_HELP = ("go on when test images are copies of training images (exact or re-encoded; found by perceptual "
                "hash): they inflate every metric, so this is refused by default")  # train's too

SWEEP_FLAGS: tuple[SweepFlag, ...] = (
    # What is searched, and on which data.
    SweepFlag("--dataset", parse={"required": True, "choices": list(DATASETS)}, resume=FIXED,
              stored=lambda options: options.base.data.dataset),
    SweepFlag("--data-root", DATA_ROOT_HELP),
    SweepFlag("--categories", "default: every category found", {"nargs": "+"}),
    SweepFlag("--space", SPACES_HELP, resume=FIXED,
              stored=lambda options: options.space.identity),
    SweepFlag("--config", "base config YAML or preset: the first trial of every study"),
    SweepFlag("--set", "override a base config key", {"action": "append", "metavar": "KEY=VALUE"}),
    SweepFlag("--seed", parse={"type": int}, resume=FIXED, stored=lambda options: options.base.seed),
    SweepFlag("--objective", "quality: selection-split image AUROC and AUPRO (default); synthetic: tune on synthetic "
              "validation anomalies only (no labelled defect needed); quality,latency: also minimise inference "
              "latency (Pareto front)", {"default": "quality", "choices": OBJECTIVES, "metavar": "|".join(OBJECTIVES)},
              option="objective", resume=FIXED),
    # How much is searched.
    SweepFlag("--num-samples", "searched trials per category, portfolio, base config and warm starts included "
              f"(default: {DEFAULT_SAMPLES}, or as many as --time-budget allows)", {"type": int},
              option="num_samples", check=above_zero, resolve=_num_samples),
    SweepFlag("--time-budget", "wall time for the whole sweep over all categories, finalists included, e.g. 90s, "
              "20m, 2h (a bare number is seconds); with --num-samples whichever ends first. Every category keeps an "
              "exportable config (its first trial runs whatever the clock says)",
              {"metavar": "DURATION"}, option="time_budget_s", resolve=_time_budget),
    SweepFlag("--portfolio", "configs tried first in every category, before the base config (on a time budget the base "
              "config comes second; write one with "
              "'export-config --portfolio FILE'; the shipped one: spaces/portfolios/demo-hard.yaml)",
              {"metavar": "FILE"}, option="portfolio", resolve=_portfolio),
    SweepFlag("--warm-start", "an earlier sweep in --storage whose best configs are tried right after the base config",
              {"metavar": "NAME"}, option="warm_start", resolve=_text("warm_start")),
    SweepFlag("--max-epochs", "full budget of a trial (ASHA max_t; default: the space's fixed train.epochs, else "
              "the base config's)", {"type": int}, option="max_epochs", resume=FIXED, check=at_least(1),
              resolve=_max_epochs),
    SweepFlag("--grace-period", "epochs before ASHA may prune", {"type": int, "default": 1}, option="grace_period",
              resume=FIXED, check=above_zero),
    SweepFlag("--reduction-factor", "ASHA's reduction factor: a rung keeps 1 in this many trials",
              {"type": int, "default": 3}, option="reduction_factor", resume=FIXED, check=at_least(2)),
    SweepFlag("--finalists", "top configs per category retrained with extra seeds before the study ends (0: none)",
              {"type": int, "default": 3}, option="finalists", check=at_least(0)),
    SweepFlag("--finalist-seeds", "extra training seeds per finalist", {"type": int, "default": 2},
              option="finalist_seeds", check=at_least(0)),
    # Where it runs.
    SweepFlag("--concurrency", "trials at once over all categories (default: the cluster's CPUs / --cpus-per-trial)",
              {"type": int}, option="concurrency", check=at_least(1), resolve=_concurrency),
    SweepFlag("--cpus-per-trial", parse={"type": float, "default": 1.0}, option="cpus_per_trial", check=above_zero),
    SweepFlag("--gpus-per-trial", "fractions pack several trials per GPU (default: 1 on a CUDA machine, else 0)",
              {"type": float}, option="gpus_per_trial", check=not_negative, resolve=_gpus),
    SweepFlag("--max-failures", "retries of a trial that crashed, each from its last checkpoint (0: none)",
              {"type": int, "default": 2}, option="max_failures", check=at_least(0)),
    SweepFlag("--device", parse={"default": "auto", "choices": ["auto", "cpu", "cuda"]}, option="device"),
    SweepFlag("--address", "an existing Ray cluster, e.g. 10.0.0.5:6379 or auto (local, or no address: a new "
              "local Ray)"),
    # Where results go.
    SweepFlag("--storage", "folder or URI (s3://...) for results and checkpoints", {"default": "runs"},
              option="storage", resolve=_storage),
    SweepFlag("--optuna-storage", "database of the Optuna studies (default: sqlite file optuna.db in a folder "
              "--storage)", {"metavar": "URL"}, option="optuna_storage", resolve=_text("optuna_storage")),
    SweepFlag("--feature-cache", "where trials share clean-image backbone features and synthetic banks (default: "
              "<storage>/feature_cache for a local storage, ~/.cache/ssflow/features otherwise); 'off' disables it",
              {"metavar": "DIR"}, option="feature_cache", resolve=_feature_cache),
    SweepFlag("--name", "experiment name (default: <dataset>-<space>-<date>-<time>)"),
    SweepFlag("--resume", "continue an interrupted sweep of --name", {"action": "store_true"}, option="resume"),
    SweepFlag("--take-over", "take the sweep's driver lease from a driver that no longer runs (one on another "
              "machine that died; a stopped driver on this machine is noticed without it)", {"action": "store_true"}),
    SweepFlag("--allow-leakage", LEAKAGE_HELP, {"action": "store_true"}, option="allow_leakage"),
)


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """Every row of :data:`SWEEP_FLAGS` as an argument of ``parser``."""
    for row in SWEEP_FLAGS:
        parser.add_argument(row.flag, help=row.help or None, **row.parse)


def check_flag_values(args: argparse.Namespace) -> None:
    """Raise :class:`UserInputError` for the first flag whose value its row's check refuses, in one line."""
    for row in SWEEP_FLAGS:
        value = getattr(args, row.dest)
        expected = row.check(value) if row.check else None
        if expected:
            raise UserInputError(f"{row.flag} {value}: expected {expected}")


def option_values(args: argparse.Namespace, context: SweepContext) -> dict[str, Any]:
    """The :class:`SweepOptions` fields the flags fill, as keyword arguments."""
    values: dict[str, Any] = {}
    for row in SWEEP_FLAGS:
        if not row.option:
            continue
        value = getattr(args, row.dest)
        values.update(row.resolve(value, args, context) if row.resolve else {row.option: value})
    return values


def fixed_on_resume(options: SweepOptions) -> dict[str, Any]:
    """The settings a resumed sweep must keep, keyed by flag: the rows marked :data:`FIXED`."""
    return {row.flag: row.stored(options) if row.stored else getattr(options, row.option)
            for row in SWEEP_FLAGS if row.resume == FIXED}
