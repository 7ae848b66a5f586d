"""Exceptions for what a user can fix: mistakes (bad paths, keys, values) and a full or read-only disk.

The command line turns them into one line on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""

from ssflow_runtime.errors import UserInputError, WriteFailed

__all__ = ["IncompatibleDependency", "UserInputError", "WriteFailed"]


class IncompatibleDependency(ImportError):
    """An installed library that this code cannot run with, explained in one line (raised at import)."""

