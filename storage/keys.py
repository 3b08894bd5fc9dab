"""The key layout: inbox/, masters/ (write-once, content-addressed), derivatives/, exports/, quarantine/."""

from __future__ import annotations

import posixpath
import unicodedata

from storage.base import InvalidKeyError

INBOX, MASTERS, DERIVATIVES, EXPORTS, QUARANTINE = (
    "inbox/",
    "masters/",
    "derivatives/",
    "exports/",
    "quarantine/",
)
MAX_KEY_BYTES = 1024  # S3's limit for a whole key
MAX_NAME_BYTES = 255  # one path segment, as on common file systems


def validate_name(name: str) -> str:
    """Check one relative object name (may contain '/'); return it NFC-normalized.

    Chinese characters and spaces are fine; '..', absolute paths, control characters,
    backslashes and over-long names are refused.
    """
    if not name or not name.strip():
        raise InvalidKeyError("empty object name")
    if any("\ud800" <= ch <= "\udfff" for ch in name):  # bytes that are not UTF-8 (os.fsdecode)
        raise InvalidKeyError(f"file name is not UTF-8 text: {printable_name(name)}")
    name = unicodedata.normalize("NFC", name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidKeyError(f"absolute path not allowed as object name: {name!r}")
    if "\\" in name:
        raise InvalidKeyError(f"backslash in object name: {name!r}", hint="use '/' between folders")
    if any(unicodedata.category(ch) == "Cc" or ch == "\x7f" for ch in name):
        raise InvalidKeyError(f"control character in object name: {name!r}")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"object name has an empty, '.' or '..' segment: {name!r}")
        if len(part.encode()) > MAX_NAME_BYTES:
            raise InvalidKeyError(
                f"object name segment is {len(part.encode())} bytes, over {MAX_NAME_BYTES}: {part[:40]!r}…"
            )
    if len(name.encode()) > MAX_KEY_BYTES - 100:  # leave room for the prefixes we add
        raise InvalidKeyError(f"object name too long ({len(name.encode())} bytes): {name[:40]!r}…")
    return name


def printable_name(name: str) -> str:
    """A file name as it may be shown and stored anywhere: bytes that are not UTF-8 and
    control characters percent-encoded (%FF), the rest as is."""
    import os
    from urllib.parse import quote

    raw = (
        os.fsencode(name)
        if any("\udc80" <= ch <= "\udcff" for ch in name)
        else name.encode("utf-8", "replace")
    )
    text = raw.decode("utf-8", "surrogateescape")
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            out.append(f"%{ord(ch) - 0xDC00:02X}")
        elif unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(quote(ch.encode("utf-8", "surrogatepass"), safe=""))
        else:
            out.append(ch)
    return "".join(out)


def validate_key(key: str) -> str:
    return validate_name(key)


def inbox_key(collection: str, batch: str, relative: str) -> str:
    return INBOX + validate_name(posixpath.join(collection, batch, relative))


def master_key(sha256: str, original_name: str) -> str:
    base = validate_name(posixpath.basename(original_name) or "object")
    return f"{MASTERS}{sha256[:2]}/{sha256}/{base}"


def derivative_key(sha256: str, name: str) -> str:
    return f"{DERIVATIVES}{sha256[:2]}/{sha256}/{validate_name(name)}"


def quarantine_key(inbox: str) -> str:
    rest = inbox[len(INBOX) :] if inbox.startswith(INBOX) else inbox
    return QUARANTINE + validate_name(rest)
