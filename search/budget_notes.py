"""What a time budget's record says beyond its counts: why a category got no finalist runs, and which
categories an interrupt left searching."""

from __future__ import annotations

from typing import Mapping

from search.category_study import CategoryStudy
from search.studies import ROLE_FINALIST


def finalist_note(study: CategoryStudy) -> str:
    """Why ``study`` ran no finalist run (read when it ran none): finalists off, its search had not ended, no
    time was left for the runs it planned, fewer than two configs to choose between, or its best config led
    the rest beyond the seed noise."""
    if not study.options.finalist_runs:
        return "finalists off"
    if not study.search_done():
        return "its search had not ended"
    if study.waiting((ROLE_FINALIST,)):
        return "no time left for the finalist runs it planned"
    if len(study.top_configs(2)) < 2:
        return "fewer than two configs ran the full budget"
    return "its best config led the rest beyond the seed noise"


def closing_notes(studies: Mapping[str, CategoryStudy], stopped_early: bool) -> dict[str, dict[str, object]]:
    """Per category, for :meth:`search.time_budget.TimeBudget.record`: ``finalists`` (:func:`finalist_note`)
    and ``interrupted``: the sweep stopped before the budget's end (``stopped_early``: Ctrl-C, a failed write)
    while this category's trials were not all done."""
    return {category: {"finalists": finalist_note(study), "interrupted": stopped_early and not study.finished()}
            for category, study in studies.items()}
