"""One Optuna study per category, in an RDB storage: the sweep's record of which trials exist.

Each category's study is named ``<sweep name>-<category>`` and lives in an
Optuna RDB storage (a SQLite file ``optuna.db`` below a folder ``--storage``,
or ``--optuna-storage URL``, e.g. PostgreSQL), so ``optuna-dashboard`` and
``optuna.load_study`` can watch it during and after a sweep. The study, not
Ray's experiment snapshot, is what a resumed sweep continues from: its
finished trials are not run again, its running ones resume from their last
checkpoint, and its sampler continues from the stored trials.

A study holds five kinds of trials (user attribute ``role``): ``portfolio``
configs (``--portfolio``: tried first, never pruned), the ``base`` config (the
default or ``--config``, never pruned), ``warm_start``
configs (the best of an earlier sweep or of categories already finished),
``search`` trials proposed by TPE, and ``finalist`` runs that repeat the top
configs with other training seeds once the search has ended. Every trial
records its logical ``key`` (the store's ``trial_id``), its ``seed``, the exact
flat config ``values`` it applies over the category's base config, and the
Ray Tune folders its checkpoints went to.
"""

from __future__ import annotations

import json
import re
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from search.options import SweepOptions
from ssflow.errors import UserInputError
from ssflow.redaction import redacted, redacted_text

ROLE_BASE, ROLE_WARM, ROLE_SEARCH, ROLE_FINALIST = "base", "warm_start", "search", "finalist"
ROLE_PORTFOLIO = "portfolio"
SEARCH_ROLES = (ROLE_PORTFOLIO, ROLE_BASE, ROLE_WARM, ROLE_SEARCH)
START_ROLES = (ROLE_PORTFOLIO, ROLE_BASE)  # what an export falls back on: tried first, trained to the full budget
PROTECTED_ROLES = (*START_ROLES, ROLE_FINALIST)  # trained to the full budget: ASHA never stops them
NOMINAL_SAMPLES = 16  # TPE's start-up share of a sweep that only a time budget ends
DB_FILE = "optuna.db"
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class TrialSpec(NamedTuple):
    """One trial as the searcher hands it to Ray Tune (the trial's ``config``)."""

    category: str
    key: str  # logical trial id: store rows, ASHA rungs and checkpoints follow it across resumes
    number: int  # the Optuna trial number in the category's study
    role: str
    seed: int
    parent: str  # a finalist's source trial key; "" otherwise
    values: dict[str, Any]  # flat config values applied over the category's base config
    resume_from: str  # checkpoint folder (path or URI) to continue from; "" = from the start

    def as_config(self) -> dict[str, Any]:
        return self._asdict()


def storage_url(options: SweepOptions) -> str:
    """``--optuna-storage``, else a SQLite file ``optuna.db`` below a folder ``--storage``.

    Raises ``UserInputError`` for a URI ``--storage`` without ``--optuna-storage``:
    SQLite cannot live in object storage.
    """
    if options.optuna_storage:
        return options.optuna_storage
    if "://" in options.storage:
        raise UserInputError(
            f"--storage {redacted(options.storage)}: the Optuna studies need a database; pass --optuna-storage URL "
            "(e.g. postgresql://user@host/db; SQLite only on a local disk)")
    return f"sqlite:///{Path(options.storage).resolve() / DB_FILE}"


# File systems whose locking SQLite cannot rely on (Optuna's and SQLite's own docs warn against them).
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb", "smb2", "smbfs", "afs", "lustre", "gpfs", "ceph", "glusterfs",
                       "beegfs", "9p", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs")


def sqlite_on_network_filesystem(url: str, mounts: Path = Path("/proc/mounts")) -> str:
    """The file system type when ``url`` is a SQLite file on a network file system (``nfs4``, ...); "" when
    it is not, or when the mounts cannot be read (not Linux)."""
    if not url.startswith("sqlite:///"):
        return ""
    target = Path(url.removeprefix("sqlite:///")).resolve()
    try:
        table = [line.split() for line in mounts.read_text().splitlines()]
    except OSError:
        return ""
    best, fstype = -1, ""
    for fields in table:
        if len(fields) < 3:
            continue
        mount = Path(fields[1].replace("\\040", " "))
        if (mount == target or mount in target.parents) and len(mount.parts) > best:
            best, fstype = len(mount.parts), fields[2]
    return fstype if fstype in NETWORK_FILESYSTEMS else ""


def open_storage(url: str, attempts: int = 6) -> RDBStorage:
    """An Optuna RDB storage at ``url``, its tables created when new.

    Two processes that open a new database at once (two sweeps sharing one
    ``--storage``, or optuna-dashboard started with the sweep) both try to
    create Optuna's tables and version row, and one of them fails ("table
    studies already exists", a UNIQUE constraint on ``alembic_version``). That
    loser tries again, up to ``attempts`` times, and then finds the tables made.

    Raises:
        UserInputError: the storage cannot be opened (one line naming the URL and the cause).
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 60}}  # readers such as optuna-dashboard may hold the file briefly
    for attempt in range(attempts):
        try:
            return RDBStorage(url, engine_kwargs=kwargs)
        except Exception as error:  # SQLAlchemy and its drivers raise many types for a bad URL
            if attempt + 1 == attempts or not _lost_creation_race(error):
                first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
                raise UserInputError(f"--optuna-storage {redacted(url)}: cannot open the study database "
                                     f"({redacted_text(first, url)})") from None
        time.sleep(0.05 * 2 ** attempt)
    raise ValueError(f"attempts {attempts}: expected >= 1")


def _lost_creation_race(error: Exception) -> bool:
    """Whether ``error`` is another process creating the same tables first (SQLite, PostgreSQL, MySQL wording)."""
    text = str(error).lower()
    return any(marker in text for marker in ("already exists", "unique constraint", "duplicate key", "duplicate entry"))


def study_name(sweep: str, category: str) -> str:
    return f"{sweep}-{category}"


def trial_key(category: str, number: int) -> str:
    """The store's ``trial_id`` of trial ``number``: ``<category>-<number>``, made safe for a file name."""
    slug = _UNSAFE.sub("-", category).strip("-.") or "category"
    if slug != category:
        slug = f"{slug}-{zlib.crc32(category.encode()) & 0xFFFF:04x}"  # keep distinct names distinct
    return f"{slug}-{number:03d}"


def finalist_key(parent: str, seed: int) -> str:
    return f"{parent}-s{seed}"


def startup_trials(num_samples: int) -> int:
    """TPE's random start-up trials for a budget of ``num_samples``: a quarter, between 2 and 10.

    Optuna's default (10) would spend most of a 12-trial budget on random
    configs; the base config and warm starts count as start-up trials too.
    """
    return max(2, min(10, num_samples // 4))


def sampler_for(options: SweepOptions, category: str, number: int) -> TPESampler:
    """The TPE sampler that proposes trial ``number`` of ``category``: seeded by the sweep seed, the
    category and the trial number, so a resumed sweep proposes what an uninterrupted one would."""
    seed = zlib.crc32(f"{options.base.seed}/{category}/{number}".encode())
    nominal = options.num_samples if options.sample_limit_given else NOMINAL_SAMPLES
    return TPESampler(seed=seed, n_startup_trials=startup_trials(nominal), constant_liar=True,
                      multivariate=True)


def load_or_create(storage: RDBStorage, options: SweepOptions, category: str) -> optuna.Study:
    """The category's study, created on a fresh sweep and loaded on ``--resume``."""
    name = study_name(options.name, category)
    directions = ["maximize", "minimize"] if options.multi_objective else ["maximize"]
    exists = name in {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    if exists and not options.resume:
        raise UserInputError(f"--name {options.name}: study '{name}' already exists in {redacted(storage.url)}; "
                             "continue it with --resume or pick another --name")
    study = optuna.create_study(storage=storage, study_name=name, directions=directions, load_if_exists=True)
    if not exists:
        study.set_user_attr("category", category)
        study.set_user_attr("sweep", options.name)
        study.set_user_attr("dataset", options.base.data.dataset)
    return study


def attr(trial: FrozenTrial, name: str, default: Any = None) -> Any:
    return trial.user_attrs.get(name, default)


def applied_values(trial: FrozenTrial) -> dict[str, Any]:
    """The flat config values a stored trial applies over its base config."""
    return json.loads(attr(trial, "values", "{}"))


def ask(study: optuna.Study, sampler: TPESampler, space: dict[str, BaseDistribution]) -> optuna.Trial:
    """The next trial: an enqueued one first (its fixed parameters kept), else TPE's proposal."""
    study.sampler = sampler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixed parameters outside a range are kept on purpose (base config)
        return study.ask(space)


# Per-trial reads and writes go through the storage: loading the whole study for one
# trial would cost a query per trial of the study on every epoch.

def fetch(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> FrozenTrial:
    """The stored state of one trial."""
    return study._storage.get_trial(trial._trial_id)


def set_trial_attr(study: optuna.Study, trial: FrozenTrial, name: str, value: Any) -> None:
    study._storage.set_trial_user_attr(trial._trial_id, name, value)


def report(study: optuna.Study, trial: FrozenTrial, epoch: int, value: float) -> None:
    """An intermediate objective (single-objective studies only); a step already stored is kept."""
    if len(study.directions) > 1 or epoch in trial.intermediate_values:
        return
    study._storage.set_trial_intermediate_value(trial._trial_id, epoch, value)


def tell(study: optuna.Study, trial: FrozenTrial, state: TrialState, values: list[float] | None) -> None:
    """Close a trial; a trial already closed (by an earlier driver) is left as it is."""
    study.tell(trial.number, values, state=state, skip_if_finished=True)


