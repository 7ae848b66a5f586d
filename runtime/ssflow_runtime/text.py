"""Names that come from outside (file names, paths) as they are printed, tabulated and used as file names.

A file name may hold bytes that are not UTF-8 (Python keeps them as lone
surrogates), control characters or a terminal escape sequence. Printed raw they
crash the output stream or rewrite the terminal; written raw they make a CSV
that is not UTF-8. Both ways they become visible backslash escapes instead.
"""

from __future__ import annotations

import re


def plain(text: str) -> str:
    """``text`` with undecodable bytes as ``\\xNN``, non-printable characters as ``\\x1b``-style escapes and a
    literal backslash doubled (so no name prints as another's escape); printable text (any script, emoji) is
    kept as it is."""
    return "".join(_plain_char(char) for char in text)


def _plain_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by Python's surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char == "\\":
        return "\\\\"
    if char.isprintable():
        return char
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def safe_part(text: str) -> str:
    """A file or folder name part safe to write and to list in a UTF-8 table: :func:`plain`, then characters
    that separate paths on some system become ``_``; ``.``, ``..`` and empty become ``_``."""
    safe = re.sub(r'[\\/:*?"<>|]', "_", plain(text))
    return "_" if safe in ("", ".", "..") else safe
