"""Pictures of a sweep: learning curves and objective-versus-hyperparameter scatters.

Pure functions of a results frame (as :meth:`results.store.ResultStore.read`
returns it) that write PNGs and return their paths. Figures are built with
matplotlib's object API on the Agg canvas, so no pyplot state is touched and
no display is needed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from results.ranking import rank_trials
from results.schema import ENDED_WITHOUT_MODEL, HP_PREFIX

PLOT_KEYS = ["experiment", "dataset", "category"]
STATUS_COLOURS = {"finished": "tab:blue", "running": "tab:orange", "pruned": "tab:gray", "diverged": "tab:purple",
                  "failed": "tab:red"}
# A numeric hyperparameter spanning this ratio or more (learning rates) is drawn on a log axis.
LOG_AXIS_RATIO = 20.0
DPI = 110
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def hashable(value: Any) -> Any:
    """A hyperparameter value usable as a set member: lists become tuples, NA becomes None."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(hashable(item) for item in value)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def varying_hyperparameters(trials: pd.DataFrame) -> list[str]:
    """The ``hp.*`` columns of ``trials`` (one row per trial) holding more than one value, in column order."""
    columns = [c for c in trials.columns if c.startswith(HP_PREFIX)]
    return [c for c in columns if len({hashable(v) for v in trials[c]}) > 1]


def short_names(columns: Sequence[str]) -> dict[str, str]:
    """Display names: ``hp.flow.clamp`` -> ``clamp``, keeping the section where two columns share a field."""
    keys = {column: column.removeprefix(HP_PREFIX) for column in columns}
    fields = [key.rsplit(".", 1)[-1] for key in keys.values()]
    return {column: (key.rsplit(".", 1)[-1] if fields.count(key.rsplit(".", 1)[-1]) == 1 else key)
            for column, key in keys.items()}


def format_value(value: Any) -> str:
    """A hyperparameter value in a few characters: ``0.001``, ``2,3``, ``poisson``, ``true``."""
    value = hashable(value)
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return ",".join(format_value(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def infer_rungs(trials: pd.DataFrame) -> list[int]:
    """The ASHA rung epochs seen in a sweep: the distinct last epochs of its pruned trials, ascending.

    The store does not keep the scheduler's grace period and reduction factor;
    a pruned trial stops exactly at a rung, so the rungs that pruned anything
    are recovered (a rung that pruned nothing leaves no trace).
    """
    pruned = trials.loc[trials["status"] == "pruned", "last_epoch"].dropna()
    return sorted({int(epoch) for epoch in pruned})


def write_plots(df: pd.DataFrame, folder: str | Path) -> list[Path]:
    """Both figures for every (experiment, dataset, category) of ``df``; the written paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for keys, rows in df.groupby(PLOT_KEYS, sort=True):
        stem = "__".join(_UNSAFE.sub("_", str(key)) for key in keys)
        written.append(plot_learning_curves(rows, folder / f"{stem}__curves.png"))
        scatter = plot_hyperparameters(rows, folder / f"{stem}__hyperparameters.png")
        if scatter is not None:
            written.append(scatter)
    return written


def plot_learning_curves(rows: pd.DataFrame, path: Path) -> Path:
    """Selection objective per epoch of every trial of one category, rungs as vertical lines.

    ``rows``: the store rows of one (experiment, dataset, category). Pruned and
    failed trials end with a cross where they stopped; the best trial is drawn
    thick.
    """
    trials = rank_trials(rows)
    figure = Figure(figsize=(8.0, 5.0), dpi=DPI)
    axes = figure.add_subplot()
    best = trials.iloc[0]["trial_id"] if trials.iloc[0]["status"] not in ENDED_WITHOUT_MODEL else None
    epochs = rows[rows["status"] == "running"].dropna(subset=["epoch", "selection_objective"])
    for trial in trials.itertuples():
        curve = epochs[epochs["trial_id"] == trial.trial_id].sort_values("epoch")
        if curve.empty:
            continue
        colour = STATUS_COLOURS.get(trial.status, "black")
        is_best = trial.trial_id == best
        axes.plot(curve["epoch"].to_numpy(float), curve["selection_objective"].to_numpy(float), color=colour,
                  linewidth=2.8 if is_best else 1.2, alpha=1.0 if is_best else 0.75, zorder=3 if is_best else 2,
                  linestyle=":" if trial.status in ENDED_WITHOUT_MODEL else "-")
        if trial.status in ("pruned", *ENDED_WITHOUT_MODEL):
            last = curve.iloc[-1]
            axes.plot([last["epoch"]], [last["selection_objective"]], marker="x", color=colour, markersize=7)
    rungs = infer_rungs(trials)
    for rung in rungs:
        axes.axvline(rung, color="black", linestyle="--", linewidth=0.8, alpha=0.5, zorder=1)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("selection objective")
    axes.set_title(_title(rows, "learning curves"), fontsize=10)
    axes.grid(alpha=0.25)
    axes.legend(handles=_legend(trials, best, rungs), loc="lower right", fontsize=8)
    return _save(figure, path)


def plot_hyperparameters(rows: pd.DataFrame, path: Path) -> Path | None:
    """Selection objective at each trial's last epoch against every varying hyperparameter.

    One subplot per hyperparameter; categorical values (strings, booleans,
    lists) sit at evenly spaced positions with their labels. None when no
    hyperparameter varies.
    """
    trials = rank_trials(rows)
    columns = varying_hyperparameters(trials)
    if not columns:
        return None
    names = short_names(columns)
    ncols = min(3, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    figure = Figure(figsize=(4.0 * ncols, 3.3 * nrows + 0.6), dpi=DPI)
    # Jitter only separates points sharing a category; a fixed seed keeps plots reproducible.
    rng = np.random.default_rng(0)
    for index, column in enumerate(columns):
        axes = figure.add_subplot(nrows, ncols, index + 1)
        _scatter(axes, trials, column, rng)
        axes.set_xlabel(names[column])
        axes.set_ylabel("selection objective" if index % ncols == 0 else "")
        axes.grid(alpha=0.25)
    figure.suptitle(_title(rows, "objective at the last epoch per hyperparameter"), fontsize=10)
    handles = _legend(trials, None, [], lines=False)
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    # Room at the bottom for the legend, at the top for the title.
    return _save(figure, path, margins=(0.0, 0.45 / figure.get_figheight(), 1.0, 0.97))


def _scatter(axes: Any, trials: pd.DataFrame, column: str, rng: np.random.Generator) -> None:
    values = [hashable(v) for v in trials[column]]
    objective = trials["selection_objective"].to_numpy(float)
    colours = [STATUS_COLOURS.get(status, "black") for status in trials["status"]]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric:
        x = np.array(values, dtype=float)
        if x.min() > 0 and x.max() / x.min() >= LOG_AXIS_RATIO:
            axes.set_xscale("log")
    else:
        labels = sorted({format_value(v) for v in values})
        position = {label: i for i, label in enumerate(labels)}
        x = np.array([position[format_value(v)] for v in values], dtype=float) + rng.uniform(-0.08, 0.08, len(values))
        axes.set_xticks(range(len(labels)), labels)
        axes.set_xlim(-0.5, len(labels) - 0.5)
    axes.scatter(x, objective, c=colours, s=28, alpha=0.85, edgecolors="none")


def _legend(trials: pd.DataFrame, best: Any, rungs: Sequence[int], lines: bool = True) -> list[Line2D]:
    counts = trials["status"].value_counts()
    handles = [Line2D([], [], color=colour, marker="" if lines else "o", linestyle="-" if lines else "",
                      label=f"{status} ({counts[status]})")
               for status, colour in STATUS_COLOURS.items() if status in counts]
    if best is not None:
        handles.append(Line2D([], [], color="black", linewidth=2.8, label=f"best: {best}"))
    if rungs:
        handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.8,
                              label=f"rungs (epoch {', '.join(map(str, rungs))})"))
    return handles


def _title(rows: pd.DataFrame, what: str) -> str:
    first = rows.iloc[0]
    return f"{first['experiment']}  {first['dataset']}/{first['category']}: {what}"


def _save(figure: Figure, path: Path, margins: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout(rect=margins)
    figure.savefig(path, format="png")
    return path
