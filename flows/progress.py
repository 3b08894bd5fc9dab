"""Progress reporting from flows to whoever started them (the CLI's progress bars).

A flow calls :func:`report`; the CLI installs a callback with :func:`reporting`. Flows and
tasks that run in the caller's thread see the callback; elsewhere reports are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Callback = Callable[..., None]
_callback: ContextVar[Callback | None] = ContextVar("lantai_progress", default=None)


def report(stage: str, **info: Any) -> None:
    """Tell the caller about progress: ``stage`` names what happened, ``info`` the figures."""
    cb = _callback.get()
    if cb is not None:
        cb(stage, **info)


@contextmanager
def reporting(callback: Callback) -> Iterator[None]:
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)
