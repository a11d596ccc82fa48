"""Credentials never printed: URLs and messages with their passwords, tokens and keys masked.

Every form counts: `user:password@host`, a password holding an unescaped `@`
(`user:p@ss@host`), query parameters (`?password=...`, `&sslpassword=...`, `?token=...`) and libpq
key-value strings (`host=db password=...`).

>>> mask_url("postgresql://admin:p@ss@db:5432/orch?sslmode=require&password=x")
'postgresql://admin:***@db:5432/orch?sslmode=require&password=***'
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_NAMES = r"password|passwd|pwd|pass|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|credentials?"
_SECRET_PARAM = re.compile(rf"(?i)([?&;](?:{SECRET_NAMES})=)[^&#;\s]*")
_KEY_VALUE = re.compile(rf"(?i)(\b(?:{SECRET_NAMES})\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;,)]+)")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """The URL with the password of its user info and secret query parameters masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_PARAM.sub(rf"\1{MASK}", url)
    base, query_sep, query = rest.partition("?")
    at = base.rfind("@")  # the last '@' before the query: a password may hold an unescaped '@'
    if at != -1:
        user, colon, _ = base[:at].partition(":")
        if colon and "/" not in user:
            base = f"{user}:{MASK}{base[at:]}"
    masked = f"{scheme}://{base}"
    if query_sep:
        masked += _SECRET_PARAM.sub(rf"\1{MASK}", "?" + query)
    return masked


def escape_password_at(url: str) -> str:
    """`user:p@ss@host` as `user:p%40ss@host`: what the user meant, where URL parsers (SQLAlchemy's)
    would take `ss@host` for the host, try to connect there and print it."""
    scheme, sep, rest = url.partition("://")
    base, query_sep, query = rest.partition("?")
    at = base.rfind("@")
    if not sep or base.count("@") < 2 or ":" not in base[:at]:
        return url
    user, _, password = base[:at].partition(":")
    return f"{scheme}://{user}:{password.replace('@', '%40')}{base[at:]}{query_sep}{query}"


def mask_text(text: str) -> str:
    """Every URL in `text` masked, and `password=...`-style pairs outside URLs too."""
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _KEY_VALUE.sub(rf"\1{MASK}", text)
