"""Exceptions for what a user can fix: mistakes (bad paths, keys, values) and a full or read-only disk.

The command line turns them into one line on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""


class UserInputError(ValueError):
    """A problem with the user's input, explained in one line."""


class IncompatibleDependency(ImportError):
    """An installed library that this code cannot run with, explained in one line (raised at import)."""


class WriteFailed(UserInputError):
    """A write the run needs failed (disk full, permission): the line says what failed and how to go on."""
