"""Exceptions for what a user can fix: a mistake (bad path, key or value) or a full or read-only disk.

Every command line built on this package (``ssflow-predict``, ``ssflow-search``)
turns them into one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.
"""


class UserInputError(ValueError):
    """A problem with the user's input, explained in one line."""


class WriteFailed(UserInputError):
    """A write the run needs failed (disk full, permission): the line says what failed and how to go on."""
