"""Mirador (npm ``mirador`` 4.0.0, served locally from another origin, as an archive's
partner site would embed it) opens a Lantai manifest in headless Chromium: the page image
comes from Lantai's Image API and the OCR lines are listed as its annotations.
Set LANTAI_SCREENSHOTS=DIR to keep the screenshot (docs/screenshots/mirador.png)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import Seeded, screen_and_redact

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

HERE = Path(__file__).parent / "mirador"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Mirador</title></head>
<body style="margin:0"><div id="viewer" style="position:absolute;inset:0"></div>
<script src="mirador.min.js"></script>
<script>
Mirador.viewer({
  id: "viewer",
  windows: [{ manifestId: MANIFEST, canvasIndex: 0 }],
  window: { sideBarOpen: true, defaultSideBarPanel: "annotations", allowClose: false },
  annotations: { filteredMotivations: ["oa:commenting", "oa:tagging", "sc:painting", "commenting",
                                       "tagging", "supplementing"] },
  workspaceControlPanel: { enabled: false },
});
</script></body></html>"""


@pytest.fixture
def viewer_site(tmp_path: Path) -> Iterator[str]:
    """Mirador's page on its own origin (a plain static server)."""
    subprocess.run(["bash", str(HERE / "fetch.sh")], check=True)
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(HERE / "mirador.min.js", site / "mirador.min.js")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_mirador_shows_the_page_and_its_text_annotations(
    live_server: str, seeded: Seeded, viewer_site: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (bash scripts/test installs it)")
    # screened and redacted as enrichment and the worker do: masked text, the redacted image
    screen_and_redact(seeded.scan)
    manifest = f"{live_server}/iiif/manifest/{seeded.scan}"
    (tmp_path / "site" / "index.html").write_text(PAGE.replace("MANIFEST", json.dumps(manifest)), "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        page.on("dialog", lambda d: pytest.fail(f"a script ran: dialog {d.message!r}"))
        images: list[str] = []
        page.on("response", lambda r: images.append(r.url) if "/iiif/image/" in r.url and r.ok else None)
        page.goto(f"{viewer_site}/index.html")
        # the OCR lines of the page, listed by Mirador as the canvas's annotations
        page.get_by_text("身份证", exact=False).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "11010519491231002X" not in body and "██████" in body  # masked for the public
        assert "备注" in body and "账户余额" in body  # the line holding <script>… is listed; nothing ran
        assert "Showing 4 annotations" in body or "4" in body
        page.wait_for_function("document.querySelectorAll('canvas').length > 0", timeout=60_000)
        page.wait_for_timeout(1500)  # let OpenSeadragon draw the tiles
        assert any(u.endswith("/info.json") for u in images), images
        assert any(u.endswith((".jpg", ".png")) for u in images), images
        shots = os.environ.get("LANTAI_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "mirador.png"))
        browser.close()


SEARCHING = PAGE.replace(
    "windows: [{ manifestId: MANIFEST, canvasIndex: 0 }]",
    'windows: [{ manifestId: MANIFEST, canvasIndex: 0, defaultSearchQuery: "身份证" }]',
)


def test_mirador_searches_within_the_item_and_lists_masked_hits(
    live_server: str, seeded: Seeded, viewer_site: str, tmp_path: Path
) -> None:
    """Mirador finds the manifest's search service, asks it, and lists the hit with its
    context — the ID number beside it masked, as the public sees it."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import ID_NUMBER

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (bash scripts/test installs it)")
    screen_and_redact(seeded.scan)
    manifest = f"{live_server}/iiif/manifest/{seeded.scan}"
    page_html = SEARCHING.replace("MANIFEST", json.dumps(manifest))
    (tmp_path / "site" / "index.html").write_text(page_html, "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        asked: list[str] = []
        page.on("response", lambda r: asked.append(r.url) if "/iiif/search" in r.url and r.ok else None)
        page.goto(f"{viewer_site}/index.html")
        page.wait_for_function("document.body.innerText.includes('██')", timeout=60_000)
        body = page.inner_text("body")
        assert "身份证" in body and ID_NUMBER not in body
        # (Mirador 4.0 asks twice for a window's defaultSearchQuery and lists the hit twice)
        assert any("/iiif/search1/" in u and "q=" in u for u in asked), asked
        shots = os.environ.get("LANTAI_SCREENSHOTS")
        if shots:
            page.wait_for_timeout(1500)
            page.screenshot(path=str(Path(shots) / "mirador-search.png"))
        browser.close()
