"""The error hierarchy. Every error a user can meet says what went wrong and how to fix it.

It lives in ``configs`` because every package may import ``configs`` and nothing else
of ours; each package adds its own subclasses.
"""

from __future__ import annotations


class LantaiError(Exception):
    """Base for errors with a message a user can act on, and a process exit code."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ConfigError(LantaiError):
    """The configuration or the installation is incomplete."""

    exit_code = 3


class MissingDependencyError(ConfigError):
    """A system program or model that setup installs is missing."""

    def __init__(self, what: str, *, hint: str = "run: bash scripts/setup") -> None:
        super().__init__(f"{what} is not installed", hint=hint)


class BadInputError(LantaiError):
    """An input (file, manifest, query) cannot be used as it is. Not worth retrying."""

    exit_code = 2
