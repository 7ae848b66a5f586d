"""Names that come from outside (file names, paths) as the command line prints and tabulates them.

A file name may hold bytes that are not UTF-8 (Python keeps them as lone
surrogates), control characters or a terminal escape sequence. Printed raw they
crash the output stream or rewrite the terminal; written raw they make a CSV
that is not UTF-8. Both ways they become visible backslash escapes instead.
"""

from __future__ import annotations

from rich.markup import escape


def plain(text: str) -> str:
    """``text`` with undecodable bytes as ``\\xNN`` and non-printable characters as ``\\x1b``-style escapes;
    printable text (any script, emoji) is kept as it is."""
    try:
        decoded = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name byte produced
        decoded = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in decoded)


def shown(text: object) -> str:
    """:func:`plain` text of ``text``, its rich markup escaped, for ``console.print``."""
    return escape(plain(str(text)))
