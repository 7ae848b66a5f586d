"""Secrets kept out of what is printed: passwords and keys in database and storage URLs.

``--optuna-storage postgresql://user:secret@host/db`` and ``--storage
s3://bucket?secret_key=...`` carry credentials; every line that shows such a
URL (headers, resume hints, errors) shows :func:`redacted` instead.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus, urlsplit

MASK = "***"
# Query parameters that carry credentials (pyarrow's S3/GCS options, database drivers' password options).
_SECRET_KEY = re.compile(r"secret|password|passwd|pwd|token|credential|signature|^sig$|account_?key|api_?key|"
                         r"private_?key|sas", re.IGNORECASE)


def redacted(url: str) -> str:
    """``url`` with the password of its user part and every credential query value replaced by ``***``.

    Only those parts change: the rest stays as typed (``sqlite:////abs/path.db?token=***`` keeps its four
    slashes). A plain path (no ``://``) comes back unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. a port that is not a number
        return _masked_userinfo(url)
    start = url.index("://") + 3
    end = start + len(parts.netloc)
    netloc = url[start:end]
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}"
    rest = url[end:]
    path, mark, query = rest.partition("?")
    if mark:
        query, hash_mark, fragment = query.partition("#")
        pairs = [_masked_pair(pair) for pair in query.split("&")]
        rest = f"{path}?{'&'.join(pairs)}{hash_mark}{fragment}"
    return url[:start] + netloc + rest


def _masked_pair(pair: str) -> str:
    """One raw ``key=value`` of a query, its value masked when the key names a credential."""
    key, equals, _ = pair.partition("=")
    return f"{key}={MASK}" if equals and _SECRET_KEY.search(unquote_plus(key)) else pair


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
    found += [pair.partition("=")[2] for pair in parts.query.split("&")  # as typed (percent-encoded) too
              if _SECRET_KEY.search(unquote_plus(pair.partition("=")[0]))]
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def _masked_userinfo(url: str) -> str:
    """The fallback for a URL :func:`urllib.parse.urlsplit` refuses: mask ``user:password@`` by pattern."""
    return re.sub(r"(://[^/:@]*):[^@/]*@", rf"\1:{MASK}@", url)
