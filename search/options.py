"""What one sweep is asked to do: every setting of the search, as one frozen dataclass.

The command line fills it (``cli.search_command.sweep_options``); the sweep,
its searcher and scheduler only read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spaces.space import SearchSpace
from ssflow.settings.config import SSFlowConfig
from ssflow.errors import UserInputError
from ssflow.redaction import redacted

OBJECTIVES = ("quality", "synthetic", "quality,latency")
UNLIMITED_SAMPLES = 1_000_000  # --time-budget without --num-samples: the budget alone ends the search
# A sweep name is a folder below the storage and part of every study name: one plain path part.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters, no '..'"


def check_sweep_name(name: str, flag: str = "--name") -> str:
    """``name`` when it is a plain sweep name (:data:`NAME_RULE`).

    Raises:
        UserInputError: a separator, ``..``, an empty or odd name (it would write outside the storage folder
            or break a study name); the name is shown escaped.
    """
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise UserInputError(f"{flag} {name!r}: expected a plain name ({NAME_RULE})")
    return name


def default_sweep_name(dataset: str, space: str, stamp: str) -> str:
    """``<dataset>-<space>-<stamp>`` with every character outside :data:`NAME_RULE` replaced by ``-``."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{dataset}-{space}-{stamp}").replace("..", "-").lstrip("._-")
    return check_sweep_name(plain[:128] or f"sweep-{stamp}")


@dataclass(frozen=True)
class SweepOptions:
    base: SSFlowConfig  # dataset, data root, seeds and every setting the space leaves fixed; the first trial
    space: SearchSpace
    name: str
    storage: str  # folder or URI: results/, ray/ (and optuna.db for a folder) live below it
    num_samples: int = 12  # searched trials per category (base config and warm starts included)
    max_epochs: int = 8
    grace_period: int = 1  # as the command's --grace-period
    reduction_factor: int = 3
    concurrency: int = 2  # trials at once over all categories
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2  # retries per trial, each from its last checkpoint
    device: str = "auto"
    resume: bool = False
    feature_cache: str = ""  # folder shared by the trials of a node; empty: no cache
    optuna_storage: str = ""  # RDB URL of the studies; empty: sqlite file optuna.db below a folder storage
    finalists: int = 3  # top configs per category retrained with extra seeds before the study ends (0: none)
    finalist_seeds: int = 2  # extra training seeds per finalist
    warm_start: str = ""  # an earlier sweep in the same storage whose best configs start this one
    allow_leakage: bool = False  # go on when test images are copies of training images (ssflow.datasets.leakage)
    objective: str = "quality"  # quality | synthetic | quality,latency (see OBJECTIVES)
    time_budget_s: float = 0.0  # wall seconds for the whole sweep, finalists included (search.time_budget); 0: none
    # Configs tried first, before the base config (only the first on a time budget; flat values each;
    # search.portfolio), and where they came from.
    portfolio: tuple[dict[str, Any], ...] = ()
    portfolio_source: str = ""

    def __getstate__(self) -> dict[str, Any]:
        """A pickled copy (Ray Tune saves its searcher, scheduler and trainable in the experiment folder) holds
        the study database URL without its password: only the driver opens the studies, from its own copy."""
        state = dict(self.__dict__)
        state["optuna_storage"] = redacted(self.optuna_storage)
        return state

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise UserInputError(f"--objective {self.objective}: expected one of {', '.join(OBJECTIVES)}")
        if self.finalists < 0 or self.finalist_seeds < 0:
            raise UserInputError(f"--finalists {self.finalists} --finalist-seeds {self.finalist_seeds}: "
                                 "expected integers >= 0")
        if self.time_budget_s < 0:
            raise UserInputError(f"--time-budget {self.time_budget_s:g}: expected seconds > 0")
        if self.warm_start and self.warm_start == self.name:
            raise UserInputError(f"--warm-start {self.warm_start}: a sweep cannot start from itself; "
                                 "name an earlier sweep in the same --storage")

    @property
    def multi_objective(self) -> bool:
        """Whether the studies minimise latency beside maximising quality (Pareto front)."""
        return self.objective == "quality,latency"

    @property
    def sample_limit_given(self) -> bool:
        """Whether searched trials are counted (``--num-samples``) rather than left to the time budget."""
        return self.num_samples < UNLIMITED_SAMPLES

    @property
    def finalist_runs(self) -> int:
        """Extra trainings per category once its search has ended."""
        return self.finalists * self.finalist_seeds if self.finalist_seeds else 0


def experiment_path(options: SweepOptions) -> str:
    """Ray Tune's experiment folder of the sweep (trial checkpoints live below it)."""
    return f"{options.storage.rstrip('/')}/ray/{options.name}"
