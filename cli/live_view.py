"""A rich live table of one category's study, fed by Tune callback events."""

from __future__ import annotations

from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial
from rich.console import Console
from rich.live import Live
from rich.table import Table

from search.store_callback import trial_outcome
from search.trainable import OBJECTIVE

KEY_PARAMS = 4  # hyperparameters shown beside the best objective


class LiveView(Callback):
    def __init__(self, console: Console, category: str, max_epochs: int, num_samples: int) -> None:
        self.console = console
        self.category = category
        self.max_epochs = max_epochs
        self.num_samples = num_samples
        self.states: dict[str, str] = {}
        self.best: tuple[float, dict[str, Any]] | None = None
        self.live: Live | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks with the experiment (and restores them on --resume);
        # a terminal cannot travel, so a restored view opens a fresh console.
        state = self.__dict__.copy()
        state["live"] = None
        state["console"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.console = Console()

    def _render(self) -> Table:
        counts = {name: sum(1 for s in self.states.values() if s == name)
                  for name in ("running", "finished", "pruned", "failed")}
        table = Table(title=f"category {self.category}", title_justify="left", expand=False)
        for column in ("trials", "running", "finished", "pruned", "failed", "best objective", "best config"):
            table.add_column(column)
        best_value, best_params = self.best if self.best else (float("nan"), {})
        shown = ", ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in list(best_params.items())[:KEY_PARAMS])
        table.add_row(f"{len(self.states)}/{self.num_samples}", str(counts["running"]), str(counts["finished"]),
                      str(counts["pruned"]), str(counts["failed"]), f"{best_value:.4f}", shown)
        return table

    def _refresh(self) -> None:
        if self.live is None:
            self.live = Live(self._render(), console=self.console, refresh_per_second=2, transient=False)
            self.live.start()
        else:
            self.live.update(self._render())

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.states[trial.trial_id] = "running"
        self._refresh()

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        value = result.get(OBJECTIVE)
        if result.get("status") == "running" and value is not None:
            if self.best is None or value > self.best[0]:
                self.best = (float(value), dict(trial.config))
        self._refresh()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.states[trial.trial_id] = trial_outcome(trial.last_result or {}, self.max_epochs)
        self._refresh()

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.states[trial.trial_id] = "failed"
        self._refresh()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.stop()
            self.live = None


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)

