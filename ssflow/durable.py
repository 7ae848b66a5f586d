"""Making a written file durable before the rename that publishes it.

A rename is atomic, but without a sync first a power loss or a full disk at
the wrong moment can leave the new name pointing at an empty or partial file.
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_file(path: str | Path) -> None:
    """Flush ``path``'s data to its disk (``fsync``). Raises ``OSError`` when the disk refuses it."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(path: str | Path) -> None:
    """Make a rename inside folder ``path`` durable; a no-op where folders cannot be synced."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems do not sync folders; the file itself is synced
    finally:
        os.close(descriptor)
