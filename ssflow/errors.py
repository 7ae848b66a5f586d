"""The one exception type for mistakes a user can fix (bad paths, keys, values).

The command line turns it into one line on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""


class UserInputError(ValueError):
    """A problem with the user's input, explained in one line."""


class IncompatibleDependency(ImportError):
    """An installed library that this code cannot run with, explained in one line (raised at import)."""
