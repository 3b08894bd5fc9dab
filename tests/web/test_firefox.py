"""The staff UI in Firefox: Debian's Firefox ESR driven over WebDriver BiDi by puppeteer-core
(Node, from the npm registry; no browser download). ``scripts/test`` installs both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, Seeded

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

HERE = Path(__file__).with_name("firefox")


def test_review_views_work_in_firefox(live_server: str, seeded: Seeded) -> None:
    firefox = os.environ.get("FIREFOX") or shutil.which("firefox-esr") or shutil.which("firefox")
    node = shutil.which("node")
    if not firefox or not node or not (HERE / "node_modules" / "puppeteer-core").is_dir():
        pytest.fail(
            "Firefox ESR, Node.js and tests/web/firefox/node_modules are needed: run bash scripts/test"
        )
    done = subprocess.run(
        [node, str(HERE / "smoke.mjs"), live_server, "ed", PASSWORD, str(seeded.recording), str(seeded.scan)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "FIREFOX": firefox, "HOME": str(HERE.parent / ".firefox-home")},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failure" not in result, json.dumps(result, ensure_ascii=False)
    assert result["errors"] == []  # no script error, no script injected by transcript text
    assert result["signed_in"] and result["low_words"] == 1 and result["script_text_shown"]
    assert abs(result["seeked"] - 0.5) < 0.25
    assert result["saved"] == "火狐里改的一段"
    assert result["box_highlight"] and result["width_ok"]
