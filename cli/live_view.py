"""A rich live table of a sweep, one row per category, fed by Tune callback events.

Columns fit 80 characters: searched trials ended of planned, finalist runs
ended, running, finished, pruned, failed, and the best objective so far; long
category names are shortened. On a time budget the title shows the time
left and the wall-clock time the sweep ends by. When the output is not a
terminal (a log file, a pipe, a batch job), each trial that ends is one line
instead (with the time left on a budget), and the table is printed once at the
end.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from ray.tune import Callback
from ray.tune.experiment import Trial
from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from results.schema import ENDED_WITHOUT_MODEL
from search.searcher import OBJECTIVE
from search.store_callback import trial_outcome
from search.durations import format_duration
from search.time_budget import TimeBudget

NAME_WIDTH = 18
STATES = ("running", "finished", "pruned", "diverged", "failed")
HEADERS = {"running": "run", "finished": "fin", "pruned": "pru", "diverged": "div", "failed": "fail"}


class LiveView(Callback):
    def __init__(self, console: Console, categories: Sequence[str], num_samples: int | None, finalist_runs: int,
                 max_epochs: int, ended: Mapping[str, Mapping[str, str]] | None = None,
                 finalists: set[str] | None = None, best: Mapping[str, float] | None = None,
                 budget: TimeBudget | None = None) -> None:
        """``num_samples``: searched trials planned per category (None: as many as the time budget allows);
        ``ended``: per category, the trials that ended before this run (a resume) and how;
        ``finalists``: which of those are finalist runs; ``best``: their best objective per category;
        ``budget``: the sweep's time budget, whose clock the view shows."""
        self.console = console
        self.budget = budget
        self.categories = list(categories)
        self.num_samples = num_samples
        self.finalist_runs = finalist_runs
        self.max_epochs = max_epochs
        self.states: dict[str, dict[str, str]] = {c: dict((ended or {}).get(c, {})) for c in self.categories}
        self.finalists: set[str] = set(finalists or ())  # keys of finalist runs
        self.best: dict[str, float] = dict(best or {})
        self.live: Live | None = None
        self.log_lines = not console.is_terminal

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks with the experiment; a terminal cannot travel.
        state = self.__dict__.copy()
        state["live"] = None
        state["console"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.console = Console()

    def render(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, title=f"sweep progress{self._clock()}", title_justify="left",
                      pad_edge=False,
                      caption="search, final: searched trials and finalist runs ended / planned; run, fin, pru, "
                              "div/fail: running, finished, pruned, diverged, failed; best: highest selection objective of any epoch (show ranks by the last epoch)",
                      caption_justify="left")
        table.add_column("category", no_wrap=True, max_width=NAME_WIDTH, overflow="ellipsis")
        table.add_column("search", justify="right", no_wrap=True)
        table.add_column("final.", justify="right", no_wrap=True)
        for state in STATES:
            table.add_column(HEADERS[state], justify="right", no_wrap=True)
        table.add_column("best", justify="right", no_wrap=True, min_width=6)
        for category in self.categories:
            states = dict(self.states[category])  # a copy: the live display renders from its own thread
            counts = {state: sum(1 for s in states.values() if s == state) for state in STATES}
            ended = {key for key, state in states.items() if state != "running"}
            finalists = len(ended & self.finalists)
            best = self.best.get(category)
            table.add_row(escape(category), self._searched(len(ended) - finalists),
                          self._finalists(finalists),
                          *(str(counts[s]) for s in STATES), "-" if best is None else f"{best:.4f}")
        return table

    def __rich__(self) -> Table:
        return self.render()

    def _finalists(self, ended: int) -> str:
        """Finalist runs ended of planned; on a time budget the runs are sized as it goes: ended only."""
        if not self.finalist_runs:
            return "-"
        return str(ended) if self.budget is not None else f"{ended}/{self.finalist_runs}"

    def _searched(self, ended: int) -> str:
        return str(ended) if self.num_samples is None else f"{ended}/{self.num_samples}"

    def _clock(self) -> str:
        """``, 2 min 5 s left, ends by 14:03:10`` on a running time budget (``ends about`` when the runs still
        to start are expected to end before the budget does); else empty."""
        if self.budget is None or self.budget.started_at is None:
            return ""
        left = self.budget.left()
        if left <= 0:
            return ", time budget spent: stopping the last trials"
        expected = self.budget.expected_left_s()
        ends = time.strftime("%H:%M:%S", time.localtime(time.time() + expected))
        return f", {format_duration(left)} left, ends {'by' if expected >= left else 'about'} {ends}"

    def _refresh(self) -> None:
        if self.log_lines:
            return
        if self.live is None:
            # Rendered on every refresh (not only on trial events), so a budget's clock keeps moving.
            self.live = Live(self, console=self.console, refresh_per_second=1, transient=False)
            self.live.start()
        else:
            self.live.refresh()

    @staticmethod
    def _where(trial: Trial) -> tuple[str, str]:
        return trial.config["category"], trial.config["key"]

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        category, key = self._where(trial)
        self.states[category][key] = "running"
        if trial.config["role"] == "finalist":
            self.finalists.add(key)
        self._refresh()

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        value = result.get(OBJECTIVE)
        category, _ = self._where(trial)
        if result.get("status") == "running" and value is not None:
            self.best[category] = max(float(value), self.best.get(category, float("-inf")))
        self._refresh()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        category, key = self._where(trial)
        result = trial.last_result or {}
        self.states[category][key] = trial_outcome(result, self.max_epochs)
        self._ended(category, key, result)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        category, key = self._where(trial)
        self.states[category][key] = "failed"
        self._ended(category, key, trial.last_result or {})

    def _ended(self, category: str, key: str, result: Mapping[str, Any]) -> None:
        if not self.log_lines:
            self._refresh()
            return
        value = result.get(OBJECTIVE)
        objective = f", objective {float(value):.4f}" if value is not None and self.states[category][key] not in ENDED_WITHOUT_MODEL \
            else ""
        ended = [k for k, state in self.states[category].items() if state != "running"]
        finalists = sum(1 for k in ended if k in self.finalists)
        progress = f"{self._searched(len(ended) - finalists)} searched"
        if self.finalist_runs:
            progress += f", {self._finalists(finalists)} finalist runs"
        self.console.print(f"{escape(key)}: {self.states[category][key]} at epoch {result.get('epoch', 0)}"
                           f"{objective} ({escape(category)}: {progress} ended{self._clock()})", soft_wrap=True)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.log_lines:
            self.console.print(self.render())
            self.log_lines = False  # printed once
            return
        if self.live is not None:
            self.live.refresh()
            self.live.stop()
            self.live = None
