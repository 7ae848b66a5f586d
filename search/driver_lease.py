"""One driver per sweep: a lease held in the sweep's own Optuna storage while the sweep runs.

Two processes started on one sweep name (say a second ``--resume`` while the
first still runs) would drive the same studies and write the same store. The
first driver therefore creates a study named ``<sweep>::driver`` in the study
database: creating a study is atomic in every Optuna RDB storage (a unique
name), so of two drivers starting together exactly one gets it. The lease
study's system attributes say who holds it (host, pid, start time) and when
the holder last refreshed it (every :data:`HEARTBEAT_S`). The lease is free
again when its holder deletes it at the end, when its holder's process is gone
(same host), when its last refresh is older than :data:`STALE_AFTER_S`, or when
the user takes it over (``--take-over``). The same lease works for a SQLite
file, a shared folder and ``--optuna-storage`` URLs, since it lives where the
studies live.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time
from typing import Callable, NamedTuple

import optuna
from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage

from ssflow.errors import UserInputError

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # ten missed refreshes: the holder is gone (killed machine, lost network)
_SUFFIX = "::driver"  # '::' is not allowed in a sweep name, so no category study can be called this


class Holder(NamedTuple):
    host: str
    pid: int
    started_at: float  # Unix seconds
    heartbeat_at: float

    def describe(self) -> str:
        started = datetime.datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {self.pid} on {self.host}, started {started}"


def lease_name(sweep: str) -> str:
    """The name of the study that holds sweep ``sweep``'s lease."""
    return f"{sweep}{_SUFFIX}"


class DriverLease:
    """The lease of one sweep, held from :meth:`acquire` to :meth:`release` and refreshed in a thread.

    ``clock`` (Unix seconds), ``host`` and ``pid`` are injectable for tests.
    """

    def __init__(self, storage: BaseStorage, sweep: str, clock: Callable[[], float] = time.time,
                 host: str | None = None, pid: int | None = None) -> None:
        self.storage = storage
        self.sweep = sweep
        self.clock = clock
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self._study_id: int | None = None
        self.lost = False  # another driver took the lease over while this one held it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, take_over: bool = False) -> str:
        """Take the lease; a note when it took over a stale or named-over one, else "".

        Raises:
            UserInputError: another live driver holds it (one line naming host, pid and start time, and how
                to wait or take over).
        """
        try:
            self._create()
            return ""
        except DuplicatedStudyError:
            pass
        holder = self._settled_holder()
        if take_over and holder is not None and holder.host == self.host and _process_alive(holder.pid):
            raise UserInputError(f"--take-over: the driver holding sweep {self.sweep} ({holder.describe()}) still "
                                 f"runs on this machine; stop it first (kill {holder.pid}) or wait for it to end")
        reason = self._free_reason(holder, take_over)
        if reason is None:
            raise UserInputError(
                f"--name {self.sweep}: another driver runs this sweep ({holder.describe() if holder else 'unknown'}"
                f"); wait for it to end (its lease is refreshed every {HEARTBEAT_S:.0f} s), or if it no longer "
                "runs, start again with --take-over")
        self._delete()
        try:
            self._create()
        except DuplicatedStudyError:  # another driver took it over in between
            raise UserInputError(f"--name {self.sweep}: another driver took this sweep over just now") from None
        return f"took over the sweep's driver lease ({reason})"

    def holder(self) -> Holder | None:
        """Who holds the lease now; None when nobody does (or its record is incomplete)."""
        try:
            study_id = self.storage.get_study_id_from_name(lease_name(self.sweep))
            attrs = self.storage.get_study_system_attrs(study_id)
        except KeyError:
            return None
        try:
            return Holder(str(attrs["host"]), int(attrs["pid"]), float(attrs["started_at"]),
                          float(attrs["heartbeat_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _settled_holder(self, wait_s: float = 2.0) -> Holder | None:
        """:meth:`holder`, waiting up to ``wait_s`` for a record being written (a driver that created the
        lease an instant ago writes who it is just after)."""
        deadline = time.monotonic() + wait_s
        while True:
            holder = self.holder()
            if holder is not None or time.monotonic() >= deadline:
                return holder
            time.sleep(0.1)

    def refresh(self) -> None:
        """Record that the holder is alive (the thread calls this every :data:`HEARTBEAT_S`); notes in
        :attr:`lost` when the lease now belongs to another driver (``--take-over``)."""
        if self._study_id is None:
            return
        holder = self.holder()
        if holder is None or (holder.host, holder.pid) != (self.host, self.pid):
            self.lost = True
            self._study_id = None  # never delete the new holder's lease
            self._stop.set()
            return
        self.storage.set_study_system_attr(self._study_id, "heartbeat_at", self.clock())

    def release(self) -> None:
        """Stop refreshing and delete the lease (a no-op when not held)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_S)
        if self._study_id is not None:
            self._delete()
            self._study_id = None

    def __enter__(self) -> DriverLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _create(self) -> None:
        study_id = self.storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], lease_name(self.sweep))
        now = self.clock()
        for key, value in (("host", self.host), ("pid", self.pid), ("started_at", now), ("heartbeat_at", now)):
            self.storage.set_study_system_attr(study_id, key, value)
        self._study_id = study_id
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.sweep}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.refresh()
            except Exception:  # a database hiccup: the next beat tries again; the lease goes stale only later
                continue

    def _delete(self) -> None:
        try:
            self.storage.delete_study(self.storage.get_study_id_from_name(lease_name(self.sweep)))
        except KeyError:
            pass
        except Exception:  # the database went away: the lease is stale, and the next driver notices that
            pass

    def _free_reason(self, holder: Holder | None, take_over: bool) -> str | None:
        """Why the lease held by ``holder`` may be taken; None when its driver may still run."""
        if take_over:
            return f"--take-over from {holder.describe()}" if holder else "--take-over"
        if holder is None:
            return "its record was incomplete"
        if holder.host == self.host and not _process_alive(holder.pid):
            return f"{holder.describe()} is no longer running"
        idle = self.clock() - holder.heartbeat_at
        if idle > STALE_AFTER_S:
            return f"{holder.describe()} last refreshed it {idle / 60:.0f} min ago"
        return None


def _process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
