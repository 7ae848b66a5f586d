"""Names that come from outside (file names, paths) as the rich console prints them: see :mod:`ssflow_runtime.text`."""

from __future__ import annotations

from rich.markup import escape

from ssflow_runtime.text import plain


def shown(text: object) -> str:
    """:func:`plain` text of ``text``, its rich markup escaped, for ``console.print``."""
    return escape(plain(str(text)))
