"""Where each setting's value comes from, for ``lantai config``.

The layers, weakest first, are exactly those ``Settings`` reads: the model's own default,
``configs/default.toml``, the file named by ``$LANTAI_CONFIG``, and ``LANTAI_*`` environment
variables (``LANTAI_ASR__VAD=true``, or a JSON object for a whole section:
``LANTAI_ASR='{"vad": true}'``). A collection's own processing defaults (OCR languages, ASR
language, script) are a last layer, added by the caller for one collection. Secrets are
never shown: a key, token or password reads ``<set>`` or ``<empty>``, a database URL keeps
everything but its password."""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.settings import DEFAULT_TOML, Settings

SECRET = re.compile(r"(secret|token|password|passwd)", re.I)


@dataclass(frozen=True)
class Setting:
    key: str  # dotted: asr.vad
    value: Any  # as the program uses it (secrets redacted)
    source: str  # default | default.toml | <path of $LANTAI_CONFIG> | env LANTAI_… | collection CODE
    env: str  # the environment variable that sets it

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "source": self.source, "env": self.env}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, f"{key}.")
        else:
            out[key] = v
    return out


def _toml(path: Path) -> dict[str, Any]:
    try:
        return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # Settings() itself reports an unreadable file


def _env(keys: set[str], environ: dict[str, str]) -> dict[str, str]:
    """Setting key → the environment variable that sets it (case-insensitive, as
    pydantic-settings reads them)."""
    found: dict[str, str] = {}
    upper = {k.upper(): k for k in environ}
    for key in keys:
        parts = key.split(".")
        name = "LANTAI_" + "__".join(parts).upper()
        if name in upper:
            found[key] = upper[name]
            continue
        # a whole section as JSON: LANTAI_ASR='{"vad": true}'
        section = "LANTAI_" + parts[0].upper()
        if len(parts) > 1 and section in upper:
            try:
                value = json.loads(environ[upper[section]])
            except ValueError:
                continue
            for part in parts[1:]:
                value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
            if value is not _MISSING:
                found[key] = upper[section]
    return found


_MISSING = object()


def _redact(key: str, value: Any) -> Any:
    if SECRET.search(key.rsplit(".", 1)[-1]):
        return "<set>" if value else "<empty>"
    if key == "database_url" and isinstance(value, str):
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1<redacted>@", value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def explain(
    settings: Settings,
    *,
    environ: dict[str, str] | None = None,
    overrides: dict[str, tuple[Any, str]] | None = None,
) -> list[Setting]:
    """Every setting's effective value and its source, in key order. ``overrides``: a last
    layer (key → (value, source)), e.g. a collection's processing defaults."""
    environ = dict(os.environ if environ is None else environ)
    values = _flatten(settings.model_dump())
    defaults = _toml(DEFAULT_TOML)
    user_file = environ.get("LANTAI_CONFIG", "")
    user = _toml(Path(user_file)) if user_file else {}
    env = _env(set(values), environ)
    out = []
    for key in sorted(values):
        value, source = values[key], "default"
        if key in defaults:
            source = "default.toml"
        if key in user:
            source = user_file
        if key in env:
            source = f"env {env[key]}"
        if overrides and key in overrides:
            value, source = overrides[key]
        out.append(
            Setting(key, _redact(key, _plain(value)), source, "LANTAI_" + key.replace(".", "__").upper())
        )
    return out
