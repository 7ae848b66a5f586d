"""Which base-config guard rule ships the better config? Replayed on the studies of finished sweeps' stores.

    python benchmarks/guard_rules.py --storage /tmp/gain-anytime [--storage DIR ...] [--output CSV]

Every study of every experiment in the stores is cut after its first n trials
(in start order, finalist runs included when they had started), for every n at
which the base config and a searched config have finished: the decision the
export would have made had the sweep stopped there. Each rule of
:mod:`results.base_guard` then picks the config to ship, and the table gives
what that choice is worth on the report split, which no choice reads: the
shipped config's report objective (image AUROC + AUPRO) / 2, mean over its
runs, minus the base config's. Cuts holding the same runs (sweeps of one
dataset share their first trials) count once. The report-split runs are single
seeds, so a rule's mean gain carries that noise; the count of losses beyond
0.01 is the risk it takes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from results.base_guard import BASE_ROLE, GuardRule, expected_max_z, fixed_z, winners_curse_z
from results.ranking import best_configs, config_summary, trial_summary
from results.store import ResultStore

RULES: dict[str, GuardRule | None] = {
    "no guard": None,
    "z 1.645 (fixed)": fixed_z(1.645),
    "z 1.0 (fixed)": fixed_z(1.0),
    "E[max of k], independent": lambda compared, correlation: expected_max_z(compared),
    "max(1, E[max of k]), independent": lambda compared, correlation: winners_curse_z(compared),
    "max(1, sqrt(1 - rho) E[max of k]) (the default)": winners_curse_z,
}
LOSS = 0.01


def _report_objective(configs: pd.DataFrame | pd.Series) -> pd.Series | float:
    """(image AUROC + AUPRO) / 2 on the report split, mean over runs: per config of a frame, or of one config."""
    return 0.5 * (configs["report_image_auroc_mean"] + configs["report_aupro_mean"])


def study_cuts(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """The rows of one study cut after each of its first n trials (start order) at which the base config and
    at least one searched config have finished; each cut as a results-store frame."""
    trials = trial_summary(rows).sort_values("started_at", kind="stable")
    order = trials["trial_id"].tolist()
    cuts = []
    for n in range(1, len(order) + 1):
        started = trials[trials["trial_id"].isin(order[:n])]
        finished = started[started["status"] == "finished"]
        if (finished["role"] == BASE_ROLE).any() and (finished["role"] != BASE_ROLE).any():
            cuts.append(rows[rows["trial_id"].isin(order[:n])])
    return cuts


def decision_gains(cut: pd.DataFrame) -> dict[str, float | bool]:
    """Per rule, the report-objective gain of the config it ships over the base config (0 when it keeps the
    base) and, under ``<rule> replaced``, whether it ships a searched config."""
    configs = config_summary(cut)
    base = _report_objective(configs[configs["role"] == BASE_ROLE]).iloc[0]
    decision: dict[str, float | bool] = {}
    for name, rule in RULES.items():
        shipped = best_configs(cut, guard_base=rule is not None, guard_rule=rule or winners_curse_z).iloc[0]
        decision[name] = float(_report_objective(shipped) - base)
        decision[f"{name} replaced"] = shipped["role"] != BASE_ROLE
    return decision


def replay(storages: list[Path]) -> pd.DataFrame:
    """One row per distinct cut of every study: category, runs, and the report gain per rule."""
    records, seen = [], set()
    for storage in storages:
        frame = ResultStore(storage).read()
        for (experiment, category), rows in frame.groupby(["experiment", "category"]):
            for cut in study_cuts(rows):
                runs = frozenset(zip(cut["config_json"], cut["seed"]))
                if (category, runs) in seen:
                    continue
                seen.add((category, runs))
                trials = cut["trial_id"].nunique()
                records.append({"experiment": experiment, "category": category, "trials": trials,
                                **decision_gains(cut)})
    return pd.DataFrame(records)


def rule_table(decisions: pd.DataFrame) -> Table:
    table = Table(title=f"guard rules over {len(decisions)} decisions "
                        f"({decisions['category'].nunique()} categories), report-split gain over the base config",
                  title_justify="left")
    for column in ("rule", "base replaced", "mean gain", "mean gain where replaced", f"losses > {LOSS}", "worst"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for name in RULES:
        gains = decisions[name]
        replaced = gains[decisions[f"{name} replaced"]]
        table.add_row(escape(name), f"{len(replaced)} / {len(gains)}", f"{gains.mean():+.4f}",
                      f"{replaced.mean():+.4f}" if len(replaced) else "-", str(int((gains < -LOSS).sum())),
                      f"{gains.min():+.4f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", type=Path, action="append", required=True, help="a sweep's --storage")
    parser.add_argument("--output", type=Path, help="CSV of every decision")
    args = parser.parse_args()
    decisions = replay(args.storage)
    console = Console(width=200)
    if decisions.empty:
        console.print("no study in these stores has the base config and a searched config finished")
        return
    console.print(rule_table(decisions))
    by_category = decisions.groupby("category")[list(RULES)].mean()
    console.print(escape(by_category.map(lambda value: f"{value:+.4f}").to_string()))
    if args.output:
        decisions.to_csv(args.output, index=False)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
