"""Entry point of ``run_search.py``: subcommands, and one-line errors for user mistakes.

``run_search.py --dataset D ...`` runs a search; ``train``, ``show``, ``export``,
``predict`` and ``export-model`` are subcommands. A command's flags live in a
light module and its work in another, imported only when it runs: ``--help``
and a mistyped flag answer without loading torch or Ray, and ``predict`` with
an ONNX model never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
from rich.console import Console

from cli.setting_flags import setting_flags
from ssflow_runtime.one_line_parser import EXIT_USAGE, OneLineParser
from ssflow_runtime.text import plain
from ssflow import __version__
from ssflow.errors import IncompatibleDependency, SettingError, UserInputError


class Command(NamedTuple):
    arguments: str  # module with add_arguments(parser): light imports only
    work: str  # module with run(args, console)
    help: str


# The search is the default when no subcommand is named.
COMMANDS = {
    "search": Command("cli.search_arguments", "cli.search_command",
                      "tune the detector per category with Ray Tune (the default)"),
    "train": Command("cli.train_arguments", "cli.train_command", "train and evaluate one category, write model.pt"),
    "show": Command("cli.show_arguments", "cli.show_command", "leaderboards and plots of a sweep"),
    "export-config": Command("cli.export_arguments", "cli.export_command",
                             "write the best config per category, or a portfolio for future sweeps"),
    "export": Command("cli.export_arguments", "cli.export_command", "the same as export-config (its older name)"),
    "predict": Command("cli.predict_command", "cli.predict_command",
                       "score images with a trained model.pt or an exported .onnx"),
    "export-model": Command("cli.export_model_arguments", "cli.export_model_command",
                            "write a model.pt as one ONNX graph (checked against torch)"),
}


# Tables written to a log or pipe: rich would otherwise wrap them at 80 columns.
LOG_WIDTH = 160


def command_parser(name: str, program: str = "run_search.py") -> argparse.ArgumentParser:
    """The argument parser of command ``name`` (a key of :data:`COMMANDS`)."""
    command = COMMANDS[name]
    prog = program if name == "search" else f"{program} {name}"
    epilog = None
    if name == "search":
        epilog = "other commands (each with --help):\n" + "\n".join(
            f"  {other:<13} {entry.help}" for other, entry in COMMANDS.items() if other != "search")
    parser = OneLineParser(prog=prog, description=command.help, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    importlib.import_module(command.arguments).add_arguments(parser)
    return parser


def _console() -> Console:
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=False, width=LOG_WIDTH if wide else None)


def program_name(argv0: str) -> str:
    """How the user called us: ``ssflow-search`` (the console script) or ``run_search.py`` (the checkout)."""
    return "ssflow-search" if Path(argv0).name.startswith("ssflow-search") else "run_search.py"


def entry() -> None:
    """The ``ssflow-search`` console script."""
    sys.exit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line (``argv`` without the program name; default ``sys.argv[1:]``); the exit code."""
    program = program_name(sys.argv[0]) if argv is None else "run_search.py"
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print(f"ssflow-search {__version__}")
        return 0
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        print(f"error: {program}: unknown command {argv[0]!r}; expected one of "
              f"{', '.join(COMMANDS)}, or options of a search (see --help)", file=sys.stderr)
        return EXIT_USAGE
    name = argv[0] if argv and argv[0] in COMMANDS else "search"
    if name != "search" or (argv and argv[0] == "search"):
        argv = argv[1:]
    parser = command_parser(name, program)
    args = parser.parse_args(argv)
    try:
        module = importlib.import_module(COMMANDS[name].work)
    except IncompatibleDependency as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    # A file OpenCV cannot decode is reported in our one line; its own log lines would come first.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    console = _console()
    try:
        return module.run(args, console)
    except UserInputError as error:
        message = error.named(setting_flags(parser)) if isinstance(error, SettingError) else str(error)
        print(f"error: {plain(message)}", file=sys.stderr)  # names from outside, escaped
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
