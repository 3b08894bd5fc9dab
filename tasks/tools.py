"""External programs, each wrapped once: located, run with a timeout, errors made actionable."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from configs.errors import LantaiError, MissingDependencyError

APT = {
    "tesseract": "tesseract-ocr",
    "ffmpeg": "ffmpeg",
    "ffprobe": "ffmpeg",
    "pdftoppm": "poppler-utils",
    "pdfunite": "poppler-utils",
}


class ToolError(LantaiError):
    """An external program failed on an input."""


class ToolTimeout(ToolError):
    """An external program ran past its deadline and was stopped."""

    http_status = 504


def require(program: str) -> str:
    """The full path of ``program`` or a MissingDependencyError naming the setup command."""
    path = shutil.which(program)
    if not path:
        raise MissingDependencyError(
            f"{program} (Debian package {APT.get(program, program)})",
            hint="run: bash scripts/setup   (or apt-get install " + APT.get(program, program) + ")",
        )
    return path


def run(
    args: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    what: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program to completion; raise ToolError with its stderr tail on failure."""
    exe = require(args[0])
    full_env = {**os.environ, **(env or {})}
    try:
        return subprocess.run(
            [exe, *args[1:]], capture_output=True, timeout=timeout, env=full_env, check=True
        )
    except subprocess.TimeoutExpired as e:
        raise ToolTimeout(f"{what}: {args[0]} did not finish within {timeout:.0f} s") from e
    except subprocess.CalledProcessError as e:
        tail = e.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ToolError(f"{what}: {args[0]} failed ({e.returncode}): {' | '.join(tail)}") from e
