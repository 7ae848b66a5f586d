"""Reading a YAML file a user hands over (config, space, export, portfolio): every failure is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ssflow.errors import UserInputError


def read_yaml(path: Path, label: str = "") -> Any:
    """The parsed content of ``path`` (None for an empty file).

    ``label`` prefixes the error (e.g. ``--portfolio``). The caller checks that the file exists first
    when a missing file deserves its own advice.

    Raises:
        UserInputError: the file cannot be read, is binary or not UTF-8 text, or is not valid YAML (one line
            naming the path and the first line of the cause).
    """
    where = f"{label} {path}" if label else str(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{where}: no such file") from None
    except OSError as error:
        raise UserInputError(f"{where}: cannot be read ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise UserInputError(f"{where}: not a YAML text file (binary or not UTF-8)") from None
    except yaml.YAMLError as error:
        raise UserInputError(f"{where}: not valid YAML ({str(error).strip().splitlines()[0]})") from None
