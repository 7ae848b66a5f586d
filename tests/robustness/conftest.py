"""The careless-use tests read a failed command's one error line."""

import pytest


@pytest.fixture()
def error_line(capsys):
    """Call after a failed command: its stderr, asserted to be one line without a traceback."""
    def read() -> str:
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err, err
        return err
    return read
