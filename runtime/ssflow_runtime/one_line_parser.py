"""argparse as every command of this project uses it: a mistake is one line, a misspelt flag is named first."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, Sequence

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports a usage mistake in one line (exit code :data:`EXIT_USAGE`) instead of
    the whole usage block, and names an unknown ``--flag`` (with the closest known one) before argparse would
    complain that a required flag is missing: ``--datset demo`` is a typo, not a missing ``--dataset``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see --help)\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        given = _negative_values_joined(list(sys.argv[1:] if args is None else args))
        known = [option for action in self._actions for option in action.option_strings]
        for token in given:
            if token == "--":
                break
            flag = token.split("=", 1)[0]
            # argparse also takes a unique prefix of a flag (--num for --num-samples)
            if flag.startswith("--") and not any(option.startswith(flag) for option in known):
                close = difflib.get_close_matches(flag, known, n=1)
                self.error(f"unrecognized argument {flag}" + (f"; did you mean {close[0]}?" if close else ""))
        return super().parse_args(given, namespace)


def _negative_values_joined(tokens: list[str]) -> list[str]:
    """``--flag -5m`` as ``--flag=-5m``: argparse would take ``-5m`` for a flag and say ``--flag`` lacks its
    value, where the value's own check names what is wrong with it."""
    joined: list[str] = []
    for token in tokens:
        if re.fullmatch(r"-\d[\w.]*", token) and joined and joined[-1].startswith("--") and "=" not in joined[-1]:
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined
