"""Fingerprints of what existed before a command ran, to show it is still byte-identical after."""

import hashlib
from pathlib import Path


def folder_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder``, keyed by its path relative to it (bytes, so odd names count too)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}
