"""Comparing secrets (signatures, tokens) in constant time, whatever a client sends.

``hmac.compare_digest`` on two ``str`` raises TypeError when either holds a non-ASCII
character, so a token such as ``"签名"`` in a URL would be a server error; compared as UTF-8
bytes it is simply not equal."""

from __future__ import annotations

import hmac


def equal_secrets(expected: str | bytes | None, given: str | bytes | None) -> bool:
    """True when both are non-empty and equal, in time independent of where they differ."""
    if not expected or not given:
        return False
    a = expected.encode("utf-8", "surrogatepass") if isinstance(expected, str) else expected
    b = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    return hmac.compare_digest(a, b)
