"""A fresh study's start trials: which configs a category trains first, in what order.

Portfolio configs (``--portfolio``), the base config, then warm starts from
earlier sweeps (``--warm-start``), each config once. On a time budget the
base config follows the first portfolio config instead of the last: a budget
may end before every start trial has run, and the base config is both the
export's fallback and the reference of its guard (:mod:`results.base_guard`).
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from search.options import SweepOptions
from search.studies import ROLE_BASE, ROLE_PORTFOLIO, ROLE_WARM
from spaces.optuna_distributions import decode_params, params_from_values
from ssflow.settings.flat_config import config_to_flat


class StartTrial(NamedTuple):
    """One trial to enqueue: ``applied`` (the space's values it sets, decoded), ``values`` (the flat values it
    came from), its ``role`` and ``source`` (for people: where the config came from)."""

    applied: dict[str, Any]
    values: dict[str, Any]
    role: str
    source: str


def start_trials(options: SweepOptions, warm: Iterable[tuple[dict[str, Any], str]]) -> list[StartTrial]:
    """The start trials of a category's fresh study, in order, without repeats (two configs are the same
    when the space's parameters they set are).

    Portfolio configs count up to ``num_samples`` - 1; the base config is left out when a portfolio config
    has its parameters; ``warm`` (values, source) pairs fill at most a quarter of ``num_samples`` (the rest
    is the search's own), and a warm config that sets none of the space's parameters is skipped.
    """
    seen: list[dict[str, Any]] = []
    portfolio = [_portfolio_trial(options, number, values)
                 for number, values in enumerate(options.portfolio[:options.num_samples - 1], start=1)]
    base_values = config_to_flat(options.base)
    base = StartTrial({}, base_values, ROLE_BASE, "the base config")
    base_after = 1 if options.time_budget_s else len(portfolio)
    chosen = [trial for trial in [*portfolio[:base_after], base, *portfolio[base_after:]]
              if _first_time(options, trial.values, seen)]
    room = min(options.num_samples - len(seen), max(1, options.num_samples // 4))
    for values, source in warm:
        params = params_from_values(options.space, values)
        if room <= 0 or not params or not _first_time(options, values, seen):
            continue
        chosen.append(StartTrial(decode_params(options.space, params), values, ROLE_WARM, source))
        room -= 1
    return chosen


def _portfolio_trial(options: SweepOptions, number: int, values: dict[str, Any]) -> StartTrial:
    params = params_from_values(options.space, values)
    return StartTrial(decode_params(options.space, params), values, ROLE_PORTFOLIO,
                      f"portfolio {options.portfolio_source} #{number}")


def _first_time(options: SweepOptions, values: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
    """Whether ``values`` sets parameters no earlier start trial set (and, if so, remember them)."""
    params = params_from_values(options.space, values)
    if params in seen:
        return False
    seen.append(params)
    return True
