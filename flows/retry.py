"""Retry policy: only what is known to pass by itself is tried again — by a whitelist, not
a blacklist. Transient: the object store or the network failing (a ``StorageError`` that is
not a verdict about the object: not found, write-once, checksum), the operating system (an
``OSError``: a dropped connection, a full disk, a remounted share) and the database being
busy (SQLite "database is locked", PostgreSQL serialization failures and deadlocks, a lost
connection). Everything else — bad input, bad setup, an engine stopped at its deadline, a
checksum that does not match, and programming errors — would fail the same way again: it is
reported at once, with its type."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from storage.base import ChecksumMismatch, ObjectNotFound, StorageError, WriteOnceError

BACKOFF: list[float] = [2, 5, 15]
_BUSY = ("database is locked", "database table is locked", "could not serialize", "deadlock detected",
         "server closed the connection", "connection refused", "could not connect")  # fmt: skip
_BUSY_STATES = {"40001", "40P01", "08000", "08001", "08003", "08006"}  # serialization, deadlock, connection


def transient(exc: BaseException) -> bool:
    """Whether trying again may succeed (the whitelist above)."""
    if isinstance(exc, ObjectNotFound | WriteOnceError | ChecksumMismatch):
        return False
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, OperationalError | DBAPIError):
        state = getattr(getattr(exc, "orig", None), "sqlstate", None)
        return state in _BUSY_STATES or any(words in str(exc).lower() for words in _BUSY)
    return isinstance(exc, OSError)


def is_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only a transient failure."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # a result that cannot be read back: not known to be transient
        return False
    return isinstance(exc, BaseException) and transient(exc)
