"""Does the base-config guard tell selection-split luck from a real gain? demo-hard, base config against a config.

    python benchmarks/base_guard.py --categories carpet concrete --seeds 0

Per category and seed: the default config (a sweep's base config) and a
challenger (by default the shipped portfolio's first config, the one a
time-budgeted sweep tries first) train for 10 epochs, as a sweep's trials do.
The table gives the challenger's gain on the selection objective, the paired
split noise of that gain (``ssflow.evaluation.split_noise``: bootstrap over the
selection images), its z = gain / noise and the guard's verdict at
``results.base_guard.winners_curse_z`` for one searched config (the seed noise left out: one run each),
beside the gain on the report split that no choice may read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from results.base_guard import winners_curse_z
from ssflow.datasets.demo import DEMO_HARD
from ssflow.datasets.prepared import prepare_data
from ssflow.evaluation.split_noise import paired_noise
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.train import fit

PORTFOLIO = Path(__file__).resolve().parent.parent / "spaces" / "portfolios" / "demo-hard.yaml"


def trained(config):
    """(selection objective, its replicates, report objective) of one 10-epoch run of ``config``."""
    epochs = []
    result = fit(config, prepare_data(config), "cpu", on_epoch=epochs.append)
    return result.objective, epochs[-1].selection_replicates(), 0.5 * (result.report.image_auroc + result.report.aupro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--categories", nargs="+", default=list(DEMO_HARD.categories))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--portfolio", type=Path, default=PORTFOLIO, help="its first config is the challenger")
    args = parser.parse_args()
    challenger = yaml.safe_load(args.portfolio.read_text())["configs"][0]["values"]
    table = Table(title=f"base config against {args.portfolio.name}'s first config, demo-hard, 10 epochs",
                  title_justify="left")
    for column in ("category", "seed", "selection gain", "split noise", "z", "guard", "report gain"):
        table.add_column(column, justify="left" if column in ("category", "guard") else "right")
    for category in args.categories:
        for seed in args.seeds:
            base = config_from_flat({"data.dataset": "demo-hard", "data.category": category, "seed": seed,
                                     "data.split_seed": seed, "train.epochs": 10})
            first, second = trained(base), trained(config_from_flat(dict(challenger), base))
            gain, noise = second[0] - first[0], paired_noise(second[1], first[1])
            verdict = "replaced" if gain >= winners_curse_z(1) * noise else "base kept"
            table.add_row(category, str(seed), f"{gain:+.3f}", f"{noise:.3f}", f"{gain / noise:.2f}", verdict,
                          f"{second[2] - first[2]:+.3f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
