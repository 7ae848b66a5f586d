"""Secrets kept out of what is printed: passwords and keys in database and storage URLs.

``--optuna-storage postgresql://user:secret@host/db`` and ``--storage
s3://bucket?secret_key=...`` carry credentials; every line that shows such a
URL (headers, resume hints, errors) shows :func:`redacted` instead.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials (pyarrow's S3/GCS options, database drivers' password options).
_SECRET_KEY = re.compile(r"secret|password|passwd|token|credential", re.IGNORECASE)


def redacted(url: str) -> str:
    """``url`` with the password of its user part and every credential query value replaced by ``***``.

    A plain path (no ``://``) comes back unchanged, as does a URL that cannot be split.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. a port that is not a number
        return _masked_userinfo(url)
    if not _secrets(url):
        return url  # rebuilding would also drop an empty host (sqlite:////abs/path)
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(key, MASK if _SECRET_KEY.search(key) else value) for key, value in pairs], safe="*/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted_text(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with ``url`` and each of its secrets, wherever they appear,
    redacted."""
    if "://" not in url:
        return text
    text = text.replace(url, redacted(url))
    for secret in _secrets(url):
        text = text.replace(secret, MASK)
    return text


def _secrets(url: str) -> list[str]:
    """The password and the credential query values of ``url`` (empty ones left out)."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return []
    found += [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if _SECRET_KEY.search(key)]
    return [secret for secret in found if secret]


def _masked_userinfo(url: str) -> str:
    """The fallback for a URL :func:`urllib.parse.urlsplit` refuses: mask ``user:password@`` by pattern."""
    return re.sub(r"(://[^/:@]*):[^@/]*@", rf"\1:{MASK}@", url)
