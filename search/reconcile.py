"""On resume: bring the studies and the results store back into agreement, and read ASHA's history.

A driver can die between closing a trial in its study and writing the trial's
final row to the store, or the other way round. The first resume step settles
both: a trial the store already shows as ended is closed in its study (it is
not run again); a trial closed in its study but without a final row gets one.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from results.ranking import trial_summary
from results.store import ResultStore
from search.category_study import CategoryStudy
from search.options import SweepOptions
from search.outcomes import Outcome
from search.scheduler import RungResult
from search.studies import ROLE_FINALIST, attr

_STORE_STATUS = {"finished": "finished", "pruned": "pruned", "diverged": "diverged", "failed": "failed"}


def _store_outcome(row: pd.Series) -> Outcome:
    status = row["status"]
    objective = row.get("selection_objective")
    latency = row.get("latency_ms")
    return Outcome(status, int(row["last_epoch"]), None if pd.isna(objective) else float(objective),
                   None if latency is None or pd.isna(latency) else float(latency))


def reconcile(store: ResultStore, rows: pd.DataFrame, category_studies: Mapping[str, CategoryStudy],
              options: SweepOptions) -> None:
    """Settle trials that one side shows as ended and the other as running (see the module docstring)."""
    summary = trial_summary(rows).set_index(["category", "trial_id"]) if not rows.empty else None
    for category, study in category_studies.items():
        for spec in list(study.resume):
            if summary is None or (category, spec.key) not in summary.index:
                continue
            row = summary.loc[(category, spec.key)]
            if row["status"] in _STORE_STATUS:
                study.resume.remove(spec)
                study.running.add(spec.key)
                study.complete(spec.key, _store_outcome(row))
        missing = [trial for key, trial in study.trials.items() if attr(trial, "outcome")
                   and (summary is None or (category, key) not in summary.index
                        or summary.loc[(category, key), "status"] == "running")]
        _write_final_rows(store, rows, category, missing, options)


def _write_final_rows(store: ResultStore, rows: pd.DataFrame, category: str, trials: Sequence, options: SweepOptions
                      ) -> None:
    for trial in trials:
        key = attr(trial, "key")
        epochs = rows[(rows["category"] == category) & (rows["trial_id"] == key) & (rows["status"] == "running")]
        if epochs.empty:
            continue
        last = epochs.sort_values("epoch").iloc[-1].to_dict()
        outcome = attr(trial, "outcome")
        last.update(status=_STORE_STATUS.get(outcome, "failed"), written_at=None)
        if outcome in ("diverged", "failed"):
            last.update(error=f"{outcome} (closed by an earlier driver before its reason was stored)",
                        selection_objective=None)
        store.write_rows([{name: value for name, value in last.items() if not _missing(value)}])


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, (list, str)) and bool(pd.isna(value)))


def rung_history(rows: pd.DataFrame, categories: Sequence[str]) -> list[RungResult]:
    """Every stored epoch of the searched trials of ``categories``, in the order they were written."""
    if rows.empty:
        return []
    running = rows[(rows["status"] == "running") & rows["category"].isin(categories)
                   & rows["selection_objective"].notna()]
    if "role" in running.columns:
        running = running[running["role"].fillna("search") != ROLE_FINALIST]
    running = running.sort_values(["written_at", "epoch"], kind="stable")
    return [RungResult(str(row.category), str(row.trial_id), int(row.epoch), float(row.selection_objective))
            for row in running.itertuples(index=False)]


def stored_epochs(rows: pd.DataFrame, category: str) -> dict[str, int]:
    """Per trial key of ``category``, the last epoch whose result the store holds (what a resume may trust)."""
    if rows.empty:
        return {}
    running = rows[(rows["category"] == category) & (rows["status"] == "running")]
    return {str(key): int(epoch) for key, epoch in running.groupby("trial_id")["epoch"].max().items()}
