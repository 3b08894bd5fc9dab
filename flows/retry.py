"""Retry policy: transient failures (storage, database, a crashed engine) retry with
backoff; bad input does not, because it would fail the same way again."""

from __future__ import annotations

from typing import Any

from configs.errors import BadInputError, ConfigError

BACKOFF: list[float] = [2, 5, 15]


def is_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the failure is bad input or bad setup."""
    exc = getattr(state, "data", None)
    return not isinstance(exc, BadInputError | ConfigError)
