"""A rich live table of a sweep, one row per category, fed by Tune callback events.

Columns fit 80 characters: searched trials ended of planned, finalist runs
ended, running, finished, pruned, failed, and the best objective so far; long
category names are shortened. When the output is not a terminal (a log file,
a pipe, a batch job), each trial that ends is one line instead, and the table
is printed once at the end.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ray.tune import Callback
from ray.tune.experiment import Trial
from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from search.searcher import OBJECTIVE
from search.store_callback import trial_outcome

NAME_WIDTH = 18
STATES = ("running", "finished", "pruned", "failed")
HEADERS = {"running": "run", "finished": "fin", "pruned": "pru", "failed": "fail"}


class LiveView(Callback):
    def __init__(self, console: Console, categories: Sequence[str], num_samples: int, finalist_runs: int,
                 max_epochs: int, ended: Mapping[str, Mapping[str, str]] | None = None,
                 finalists: set[str] | None = None, best: Mapping[str, float] | None = None) -> None:
        """``ended``: per category, the trials that ended before this run (a resume) and how;
        ``finalists``: which of those are finalist runs; ``best``: their best objective per category."""
        self.console = console
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
        table = Table(box=box.SIMPLE_HEAD, title="sweep progress", title_justify="left", pad_edge=False,
                      caption="search, final: searched trials and finalist runs ended / planned; run, fin, pru, "
                              "fail: running, finished, pruned, failed; best: selection objective",
                      caption_justify="left")
        table.add_column("category", no_wrap=True, max_width=NAME_WIDTH, overflow="ellipsis")
        table.add_column("search", justify="right", no_wrap=True)
        table.add_column("final.", justify="right", no_wrap=True)
        for state in STATES:
            table.add_column(HEADERS[state], justify="right", no_wrap=True)
        table.add_column("best", justify="right", no_wrap=True, min_width=6)
        for category in self.categories:
            states = self.states[category]
            counts = {state: sum(1 for s in states.values() if s == state) for state in STATES}
            ended = {key for key, state in states.items() if state != "running"}
            finalists = len(ended & self.finalists)
            best = self.best.get(category)
            table.add_row(escape(category), f"{len(ended) - finalists}/{self.num_samples}",
                          f"{finalists}/{self.finalist_runs}" if self.finalist_runs else "-",
                          *(str(counts[s]) for s in STATES), "-" if best is None else f"{best:.4f}")
        return table

    def _refresh(self) -> None:
        if self.log_lines:
            return
        if self.live is None:
            self.live = Live(self.render(), console=self.console, refresh_per_second=2, transient=False)
            self.live.start()
        else:
            self.live.update(self.render())

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
        objective = f", objective {float(value):.4f}" if value is not None and self.states[category][key] != "failed" \
            else ""
        ended = [k for k, state in self.states[category].items() if state != "running"]
        finalists = sum(1 for k in ended if k in self.finalists)
        progress = f"{len(ended) - finalists}/{self.num_samples} searched"
        if self.finalist_runs:
            progress += f", {finalists}/{self.finalist_runs} finalist runs"
        self.console.print(f"{escape(key)}: {self.states[category][key]} at epoch {result.get('epoch', 0)}"
                           f"{objective} ({escape(category)}: {progress} ended)", soft_wrap=True)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.log_lines:
            self.console.print(self.render())
            self.log_lines = False  # printed once
            return
        if self.live is not None:
            self.live.update(self.render())
            self.live.stop()
            self.live = None
