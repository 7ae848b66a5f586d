"""What a time budget bought, in one line: printed when a budgeted sweep ends and by ``show``."""

from __future__ import annotations

from typing import Any, Mapping

from rich.markup import escape

from search.durations import format_duration


def budget_line(record: Mapping[str, Any]) -> str:
    """One line on what a time budget bought (``search.time_budget.TimeBudget.record``): the sweep's wall
    time against the budget, the start-up before it, and per category its trials, slot time and why its
    search ended."""
    startup = record.get("startup_s")
    run = "the last run (a resume)" if record.get("resumed") else "the sweep"
    head = (f"time budget {format_duration(record['budget_s'])}: {run} ran {format_duration(record['sweep_s'])}"
            + (f" (start-up before it: {format_duration(startup)})" if startup is not None else ""))
    parts = []
    for category, spent in record.get("categories", {}).items():
        extra = [_count(spent["finalist_runs"], "finalist run")
                 + (f": {spent['no_finalists']}" if spent.get("no_finalists") else "")]
        if spent["stopped_by_budget"]:
            extra.append(f"{spent['stopped_by_budget']} stopped at the budget's end")
        parts.append(f"{escape(category)} {_count(spent['trials'], 'trial')} ({', '.join(extra)}), "
                     f"{format_duration(spent['slot_seconds'])} of slots, search ended: {spent['search_ended']}")
    return head + ("; " + "; ".join(parts) if parts else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
