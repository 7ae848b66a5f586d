"""Durations as people write and read them: ``--time-budget 1h30m`` in, ``12 min 5 s`` out."""

from __future__ import annotations

import re

from ssflow.errors import UserInputError

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smh])")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``90s``, ``20m``, ``2h``, ``1h30m`` or ``1.5h`` (a bare number: seconds).

    Raises:
        UserInputError: not such a duration, or not > 0 (one line naming ``--time-budget`` and the value).
    """
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        parts = _PART.findall(value)
        if not parts or "".join(number + unit for number, unit in parts) != value:
            raise UserInputError(f"--time-budget {text}: expected a duration such as 90s, 20m, 2h or 1h30m") from None
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if not seconds > 0 or seconds == float("inf"):
        raise UserInputError(f"--time-budget {text}: expected a duration > 0, such as 90s, 20m or 2h")
    return seconds


def format_duration(seconds: float) -> str:
    """``42 s``, ``12 min 5 s``, ``2 h 3 min``: a duration for people."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
