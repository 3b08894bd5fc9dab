"""What is retried is what passes by itself: a whitelist. A programming error or a verdict
about the data fails at once, with its type."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from configs.errors import BadInputError
from flows.ingest import prepare as prepare_module
from flows.ingest.prepare import Entry, Run, prepare
from flows.retry import transient
from storage.base import ChecksumMismatch, ObjectNotFound, StorageError, WriteOnceError
from tasks.hosted import EngineTimeout


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (StorageError("connection reset by peer"), True),
        (ConnectionResetError(), True),
        (OSError(28, "No space left on device"), True),
        (OperationalError("UPDATE item", {}, Exception("database is locked")), True),
        (OperationalError("UPDATE item", {}, Exception("could not serialize access")), True),
        (ChecksumMismatch("masters/x", "a" * 64, "b" * 64), False),
        (WriteOnceError("refusing to overwrite"), False),
        (ObjectNotFound("masters/x"), False),
        (BadInputError("truncated"), False),
        (EngineTimeout("timed out"), False),
        (OperationalError("SELECT", {}, Exception("no such column: item.nope")), False),
        (TypeError("unsupported operand"), False),
        (KeyError("lines"), False),
    ],
)
def test_the_whitelist(exc: BaseException, expected: bool) -> None:
    assert transient(exc) is expected


def _entry(tmp_path: Path) -> tuple[Run, Entry]:
    page = tmp_path / "p.png"
    page.write_bytes(b"x")
    return Run(None, None, "C", "b", tmp_path), Entry("p.png", path=page)  # type: ignore[arg-type]


def test_a_programming_error_fails_the_file_at_once_with_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def broken(run: Run, entry: Entry) -> None:
        calls.append(1)
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(prepare_module, "_prepare_local", broken)
    began = time.monotonic()
    result = prepare(*_entry(tmp_path))
    assert result.outcome == "failed" and result.reason.startswith("TypeError: unsupported operand")
    assert calls == [1] and time.monotonic() - began < 1.0  # not retried for 22 s


def test_a_storage_failure_is_retried_then_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def flaky(run: Run, entry: Entry) -> None:
        calls.append(1)
        raise StorageError("connection reset by peer")

    monkeypatch.setattr(prepare_module, "_prepare_local", flaky)
    monkeypatch.setattr(prepare_module, "BACKOFF", [0.0, 0.0, 0.0])
    result = prepare(*_entry(tmp_path))
    assert calls == [1, 1, 1, 1] and result.outcome == "failed" and "connection reset" in result.reason


def test_prefect_retries_only_the_transient() -> None:
    """The retry condition reads the failed state as Prefect hands it over."""
    import asyncio

    from prefect.states import exception_to_failed_state

    from flows.retry import is_transient

    def state(exc: BaseException):  # type: ignore[no-untyped-def]
        try:
            raise exc
        except BaseException as e:
            return asyncio.run(exception_to_failed_state(e))

    assert is_transient(None, None, state(StorageError("connection reset")))
    assert not is_transient(None, None, state(TypeError("a bug")))
    assert not is_transient(None, None, state(ChecksumMismatch("k", "a" * 64, "b" * 64)))
