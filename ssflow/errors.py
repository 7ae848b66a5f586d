"""Exceptions for what a user can fix: mistakes (bad paths, keys, values) and a full or read-only disk.

The command line turns them into one line on stderr and exit code 2; anything
else is a bug and keeps its traceback. The model layer names settings by
their config keys (``data.root``) or argument names (``device``), never by a
command-line flag: :class:`SettingError` carries the name, and the command line
shows its own flag for it (``--data-root``).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ssflow_runtime.errors import UserInputError, WriteFailed

__all__ = ["IncompatibleDependency", "SettingError", "UserInputError", "WriteFailed"]

_MENTION = re.compile(r"\{([A-Za-z_][\w.]*)\}")  # {backbone.weights} in a reason: another setting named


class IncompatibleDependency(ImportError):
    """An installed library that this code cannot run with, explained in one line (raised at import)."""


class SettingError(UserInputError):
    """A value one setting cannot take: ``key`` (a config key such as ``data.root``, or an argument such as
    ``device`` or ``overrides``), the ``value`` given (None: the setting is missing) and the ``reason``.

    The message is ``<key> <value>: <reason>``, or the reason alone without a value (it then names the
    setting itself). ``reason`` names settings as ``{key}``. ``str()`` shows every setting by its key, as
    Python callers and config files know it; :meth:`named` shows them by other names (a command's flags).
    """

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(self.named({}))

    def __reduce__(self) -> tuple[type, tuple[str, Any, str]]:
        """Pickled with its fields (a trial's error crosses from a Ray worker to the driver)."""
        return type(self), (self.key, self.value, self.reason)

    def named(self, names: Mapping[str, str]) -> str:
        """The one-line message with each setting shown as ``names[key]`` (the key itself where absent)."""
        reason = _MENTION.sub(lambda match: names.get(match.group(1), match.group(1)), self.reason)
        return reason if self.value is None else f"{names.get(self.key, self.key)} {self.value}: {reason}"
