"""Several processes opening one new study database at once: real SQLite, real processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import optuna

from search import studies

PROCESSES = 3
ROUNDS = 4  # without the retry, nearly every round of two or more processes has a loser


def open_and_create(url: str, barrier: Any, name: str) -> str | None:
    """Open the storage the moment every process is ready, then add a study; the error text, if any."""
    barrier.wait()
    try:
        storage = studies.open_storage(url)
        optuna.create_study(storage=storage, study_name=name)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def test_sweeps_starting_together_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(PROCESSES) as pool:
        for round_number in range(ROUNDS):
            url = f"sqlite:///{tmp_path / f'round{round_number}' / studies.DB_FILE}"
            barrier = manager.Barrier(PROCESSES)
            names = [f"sweep{index}-wood" for index in range(PROCESSES)]
            errors = pool.starmap(open_and_create, [(url, barrier, name) for name in names])
            assert errors == [None] * PROCESSES, errors
            assert sorted(s.study_name for s in optuna.get_all_study_summaries(studies.open_storage(url))) == names
