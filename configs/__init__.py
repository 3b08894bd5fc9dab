"""Settings and the shared error base: the only package every other one may import."""

from __future__ import annotations

from configs.errors import LantaiError
from configs.settings import Settings, get_settings

__all__ = ["LantaiError", "Settings", "get_settings"]
