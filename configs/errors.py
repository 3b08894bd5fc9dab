"""The error hierarchy. Every error a user can meet says what went wrong and how to fix it.

It lives in ``configs`` because every package may import ``configs`` and nothing else
of ours; each package adds its own subclasses.
"""

from __future__ import annotations


class LantaiError(Exception):
    """A general failure: read the message."""

    exit_code = 1  # what the command line exits with
    http_status = 500  # what the web answers with
    title_key = "error"  # the web's error-page heading (web/i18n.py)

    def extra(self) -> dict[str, object]:
        """Fields a JSON error answer carries besides the message."""
        return {}

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ConfigError(LantaiError):
    """The installation or configuration is incomplete: a program, model or setting is
    missing or invalid, or the database cannot be reached."""

    exit_code = 3
    http_status = 503


class MissingDependencyError(ConfigError):
    """A system program or model that setup installs is missing."""

    http_status = 503

    def __init__(self, what: str, *, hint: str = "run: bash scripts/setup") -> None:
        super().__init__(f"{what} is not installed", hint=hint)


class BadInputError(LantaiError):
    """An input (file, manifest, query, form) cannot be used as it is. Not worth retrying."""

    exit_code = 2
    http_status = 422
