"""How fast the command line answers: ``--help`` of every subcommand, median of 5 fresh interpreters.

    python benchmarks/cli_startup.py [--repeats 5]

Each run is a new ``python run_search.py <command> --help`` process (what a
user waits for), timed from start to exit; the table gives the median and the
slowest of ``--repeats`` runs per command, and a mistyped flag of the search.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[1]


def seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "run_search.py", *argv], cwd=REPO, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = {f"{name} --help": [name, "--help"] for name in COMMANDS}
    cases["search --no-such-flag"] = ["--no-such-flag"]
    table = Table(title=f"command line start-up, {args.repeats} fresh processes each ({platform.machine()}, "
                        f"Python {platform.python_version()})", title_justify="left")
    for column in ("command", "median s", "slowest s"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for label, argv in cases.items():
        times = [seconds(argv) for _ in range(args.repeats)]
        table.add_row(label, f"{statistics.median(times):.2f}", f"{max(times):.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
