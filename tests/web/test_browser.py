"""The staff UI in a real headless Chromium (Debian's package, driven by Playwright):
player and transcript in sync, editing, conflicts, page boxes, escaping, language toggle.
Set LANTAI_SCREENSHOTS=DIR to keep screenshots (docs/screenshots is made this way)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, Seeded

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.environ.get("LANTAI_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (bash scripts/test installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def _until(page, expression: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``expression`` is true in the page. Polled from here with ``evaluate``:
    Playwright's ``wait_for_function`` polls with an ``eval`` that the app's CSP (no
    'unsafe-eval') refuses once the first check fails, so under load it failed."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _page(browser, base: str, user: str, width: int = 1366, height: int = 900):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(base_url=base, viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.on("dialog", lambda d: pytest.fail(f"a script ran: dialog {d.message!r}"))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/review")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/review")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def test_recording_view_follows_the_player_and_saves_edits(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, live_server, "ed")
    _shot(page, "review-queue")
    page.goto(f"/items/{seeded.recording}/recording")
    player = page.locator("#player")
    _until(page, "document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').duration") > 3
    # the machine text with <script> shows as text; no script ran (the dialog handler would fail)
    assert "<script>alert(1)</script>" in page.locator(f"#seg-{seeded.segments[1]} .text").inner_text()
    # low-confidence words are marked (words become spans as their segment comes into view)
    page.wait_for_selector(f"#seg-{seeded.segments[0]} .text span.low")
    assert page.locator(f"#seg-{seeded.segments[0]} .text span.low").count() == 1
    # clicking a segment's time seeks there and the segment is highlighted
    page.click(f"#seg-{seeded.segments[2]} .time")
    _until(page, "document.getElementById('player').currentTime >= 2.2")
    page.wait_for_selector(f"#seg-{seeded.segments[2]}.playing")
    player.evaluate("p => p.pause()")
    # clicking a word seeks to the word
    page.locator(f"#seg-{seeded.segments[0]} .text span").nth(7).click()
    _until(page, "Math.abs(document.getElementById('player').currentTime - 0.5) < 0.2")
    player.evaluate("p => p.pause()")
    # the waveform is drawn from the stored peaks, and a click on it seeks
    _until(
        page,
        "(() => { const c = document.getElementById('waveform'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; return d.some((v, i) => i % 4 === 3 && v > 0); })()",
    )
    box = page.locator("#waveform").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    _until(page, "document.getElementById('player').currentTime > 2.2")
    player.evaluate("p => p.pause()")
    # keyboard: Alt+Down moves to the next segment
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_selector(f"#seg-{seeded.segments[1]}.active")
    _shot(page, "recording-view")
    # edit: double-click, type, Ctrl+Enter
    page.dblclick(f"#seg-{seeded.segments[0]} .text")
    area = page.locator(f"#seg-{seeded.segments[0]} textarea.raw")
    area.fill("希望你以后能够做得比我还好哟")
    area.press("Control+Enter")
    page.wait_for_selector(f"#seg-{seeded.segments[0]}.saved")
    page.reload()
    assert page.locator(f"#seg-{seeded.segments[0]} .text").inner_text() == "希望你以后能够做得比我还好哟"
    assert not page.errors  # type: ignore[attr-defined]


def _add_second_part(recording: int) -> list[int]:
    """A second recording file under the same 档号: its master, access copy and transcript."""
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Asset, Item, Segment, Transcript
    from catalog.search import reindex_item
    from configs import get_settings
    from storage import open_store
    from tests.conftest import SAMPLES

    open_store(get_settings()).put_file(
        "derivatives/cc/access.wav", SAMPLES / "房地产中介协会.wav", content_type="audio/wav"
    )
    with Session(get_engine(get_settings().db_url)) as s:
        master = Asset(
            item_id=recording, role="master", key="masters/cc/rec/part2.wav", sha256="c" * 64, sequence=1
        )
        s.add(master)
        s.flush()
        s.add(
            Asset(
                item_id=recording,
                role="access",
                key="derivatives/cc/access.wav",
                sha256="d" * 64,
                media_type="audio/wav",
                source_asset_id=master.id,
            )
        )
        tr = Transcript(item_id=recording, asset_id=master.id or 0, language="zh", duration=4.28, engine="x")
        s.add(tr)
        s.flush()
        segs = [
            Segment(transcript_id=tr.id or 0, seq=0, start=0.0, end=2.0, text="房地产中介协会第二部分"),
            Segment(transcript_id=tr.id or 0, seq=1, start=2.0, end=4.2, text="第二部分的结尾"),
        ]
        s.add_all(segs)
        s.flush()
        item = s.get(Item, recording)
        assert item is not None
        reindex_item(s, item)
        s.commit()
        return [x.id or 0 for x in segs]


def test_two_part_interview_both_parts_visible_and_editable(
    browser, live_server: str, seeded: Seeded
) -> None:  # type: ignore[no-untyped-def]
    part2 = _add_second_part(seeded.recording)
    page = _page(browser, live_server, "ed")
    # the search deep link into part 1 opens part 1 (its own audio) at the segment
    page.goto("/search?q=谢谢大家")
    page.locator(f"li.hit[data-item='{seeded.recording}'] a.hit-link").first.click()
    page.wait_for_selector("#recording[data-part='1']")
    _until(page, "document.getElementById('player').readyState >= 1")
    assert abs(page.evaluate("document.getElementById('player').duration") - 3.48) < 0.1
    assert page.locator(f"#seg-{seeded.segments[2]}").count() == 1
    # the parts are listed; part 2 has its own audio and transcript, and saves
    page.click("nav.parts a.part")
    page.wait_for_selector("#recording[data-part='2']")
    _until(page, "document.getElementById('player').readyState >= 1")
    assert abs(page.evaluate("document.getElementById('player').duration") - 4.28) < 0.1
    assert page.locator(f"#seg-{seeded.segments[0]}").count() == 0
    page.dblclick(f"#seg-{part2[1]} .text")
    area = page.locator(f"#seg-{part2[1]} textarea.raw")
    area.fill("第二部分的结尾（已校对）")
    area.press("Control+Enter")
    page.wait_for_selector(f"#seg-{part2[1]}.saved")
    _shot(page, "recording-part-2")
    page.reload()
    assert page.locator(f"#seg-{part2[1]} .text").inner_text() == "第二部分的结尾（已校对）"
    assert not page.errors  # type: ignore[attr-defined]


def test_two_editors_get_a_conflict_not_an_overwrite(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    ed, eve = _page(browser, live_server, "ed"), _page(browser, live_server, "eve")
    seg = seeded.segments[2]
    for p in (ed, eve):
        p.goto(f"/items/{seeded.recording}/recording")
        p.dblclick(f"#seg-{seg} .text")
    ed.locator(f"#seg-{seg} textarea.raw").fill("艾德的修改")
    ed.locator(f"#seg-{seg} .e-save").click()
    ed.wait_for_selector(f"#seg-{seg}.saved")
    eve.locator(f"#seg-{seg} textarea.raw").fill("伊芙的修改")
    eve.locator(f"#seg-{seg} .e-save").click()
    eve.wait_for_selector("#conflict:not([hidden])")
    assert eve.locator("#conflict-theirs").inner_text() == "艾德的修改"
    assert eve.locator("#conflict-yours").inner_text() == "伊芙的修改"
    _shot(eve, "edit-conflict")
    eve.click("#conflict-theirs-btn")
    assert eve.locator(f"#seg-{seg} .text").inner_text() == "艾德的修改"


def test_page_view_boxes_search_deep_link_and_line_edit(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, live_server, "ed")
    page.goto("/search?q=账户")
    _shot(page, "search")
    link = page.locator("a.hit-link").first
    assert "box=" in (link.get_attribute("href") or "")
    link.click()
    page.wait_for_selector("#hit")
    # the boxes are placed in % of the image, so they have their size once it has loaded
    _until(page, "() => document.getElementById('page-image')?.complete")
    assert page.locator("#hit").bounding_box()["width"] > 5  # type: ignore[index]
    # hovering a line highlights its box on the image
    page.hover(".line[data-line='0'] .ocr")
    page.wait_for_selector(".box.on[data-line='0']")
    assert page.locator(".line[data-line='0'] .w.low").count() == 1
    assert "<script>alert(1)</script>" in page.locator(".line[data-line='1'] .ocr").inner_text()
    _shot(page, "page-view")
    edit = page.locator(".line[data-line='2'] .edit")
    edit.fill("账户余额表")
    edit.press("Enter")
    page.wait_for_selector(".line[data-line='2'].saved")
    page.goto(f"/items/{seeded.scan}/history")
    assert "账户余额" in page.locator(".history").inner_text()
    _shot(page, "history")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_match_across_a_line_end_lights_both_lines(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    """说明 ends line 1 and 备注 starts line 2 of the seeded page: the phrase is found, the
    result is one item with its hit count, and its deep link shows a box on each line."""
    page = _page(browser, live_server, "ed")
    page.goto("/search?q=说明备注")
    result = page.locator(f"li.result[data-item='{seeded.scan}']")
    assert result.locator(".hit-count").inner_text() == "1"
    result.locator(".snippet-hit a").first.click()
    page.wait_for_selector("#hit")
    _until(page, "() => document.getElementById('page-image')?.complete")
    boxes = [page.locator(".box.hit").nth(k).bounding_box() for k in range(page.locator(".box.hit").count())]
    assert len(boxes) == 2 and all(b and b["width"] > 5 for b in boxes)
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] / 2  # type: ignore[index]  # the next line down
    _shot(page, "search-two-lines")
    assert not page.errors  # type: ignore[attr-defined]


def test_tablet_width_and_english_labels(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, live_server, "ed", width=820, height=1180)
    page.goto(f"/items/{seeded.scan}")
    assert page.locator("h2").first.inner_text() in ("页面", "转写文本")
    page.click("text=English")
    page.wait_for_selector("text=Description")
    # nothing is wider than the tablet screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    _shot(page, "item-tablet-en")
    # approve: the item locks for editors
    page.click("#approve")
    page.wait_for_selector("text=Approved: editing is locked")
    assert page.locator("#save-description").count() == 0


def test_build_a_project_and_render_its_docx(
    browser, live_server: str, seeded: Seeded, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An editor creates a project, adds a transcript span and a page line from the views,
    reorders and annotates, downloads the DOCX; LibreOffice renders it to PDF and PNG and the
    Chinese text and citations come out right."""
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.fail(
            "LibreOffice is missing: apt-get install libreoffice-writer-nogui (scripts/test installs it)"
        )
    page = _page(browser, live_server, "ed")
    page.goto("/projects")
    page.fill("#new-project input[name=title]", "口述史专题汇编")
    page.click("#new-project button[type=submit]")
    page.wait_for_url("**/projects/*")
    project_url = page.url
    # two segments from the recording view
    page.goto(f"/items/{seeded.recording}/recording")
    page.check(f"#seg-{seeded.segments[0]} input.pick")
    page.check(f"#seg-{seeded.segments[2]} input.pick")
    page.click("#add-to-project")
    page.wait_for_selector("#added:not([hidden])")
    # one line from the page view
    page.goto(f"/items/{seeded.scan}/pages/1")
    page.check(".line[data-line='0'] input.pick")
    page.click("#add-to-project")
    page.wait_for_selector("#added:not([hidden])")
    page.goto(project_url)
    assert page.locator(".excerpt").count() == 2
    first = page.locator(".excerpt").nth(0)
    assert "希望你以后能够做的比我还好呦" in first.inner_text() and "第三段 谢谢大家" in first.inner_text()
    # move the page excerpt up, give it a heading and a note
    page.locator(".excerpt").nth(1).locator("button[value=up]").click()
    page.wait_for_load_state()
    top = page.locator(".excerpt").nth(0)
    assert "网络支付方式说明" in top.inner_text()
    top.locator("input[name=heading]").fill("网络支付的档案记载")
    top.locator("textarea[name=notes]").fill("据扫描件第一行。")
    top.locator("button[value=save]").click()
    page.wait_for_load_state()
    assert page.locator(".excerpt h2").nth(0).inner_text() == "网络支付的档案记载"
    _shot(page, "project")
    with page.expect_download() as dl:
        page.click("#export-docx")
    docx = tmp_path / "project.docx"
    dl.value.save_as(docx)
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},  # a throw-away LibreOffice profile
    )
    pdf = tmp_path / "project.pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())
    assert "口述史专题汇编" in flat and "网络支付的档案记载" in flat and "据扫描件第一行。" in flat
    assert "希望你以后能够做的比我还好呦" in flat
    assert "（来源：J001-LY·2024·Y-001，《口述寄语》，王大妈，2024年5月1日，00:00:00–00:00:03）" in flat
    assert "资料来源" in flat and "第1页" in flat
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True
    )
    png = next(tmp_path.glob("p-*.png"))
    assert png.stat().st_size > 5000
    if SHOTS:
        shutil.copy(png, Path(SHOTS) / "project-docx-page1.png")


def test_open_review_in_the_browser(browser, live_server: str, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    """Screen, confirm the flag, two reviewers open the scan; an anonymous visitor sees the
    redacted page and masked text, and nothing of the controlled item."""
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Access, Item
    from catalog.review.screening import term_lists
    from configs import get_settings
    from flows.publish import screen_and_index as screen_item
    from tests.web.conftest import ID_NUMBER

    with Session(get_engine(get_settings().db_url)) as s:
        item = s.get(Item, seeded.scan)
        assert item is not None
        item.access = Access.unreviewed
        screen_item(s, item, term_lists(get_settings(), None))
        s.commit()
    ed = _page(browser, live_server, "ed")
    ed.goto("/screening")
    ed.click(f"a[href='/items/{seeded.scan}/screening']")
    row = ed.locator("tr.f-open").first
    assert "110***********002X" in row.inner_text()
    row.locator("input[name=reason]").fill("公民身份号码，遮蔽后开放")
    row.locator("button[value=confirm]").click()
    ed.wait_for_selector("tr.f-confirmed")
    ed.select_option("#access-form select[name=access]", "开放")
    ed.fill("#access-form textarea[name=reason]", "初审：遮蔽个人信息后可开放")
    ed.click("#access-form button[type=submit]")
    ed.wait_for_selector("text=等待另一位审核人复审")
    _shot(ed, "screening")
    eve = _page(browser, live_server, "eve")
    eve.goto(f"/items/{seeded.scan}/screening")
    eve.select_option("#access-form select[name=access]", "开放")
    eve.fill("#access-form textarea[name=reason]", "复审同意")
    eve.click("#access-form button[type=submit]")
    eve.wait_for_selector("#access:text('开放')")
    from flows.jobs import run_jobs

    assert [d["kind"] for d in run_jobs()] == ["redact"]  # the worker makes the redacted copies

    visitor = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900}).new_page()
    visitor.on("dialog", lambda d: pytest.fail(f"a script ran: {d.message!r}"))
    visitor.goto("/public/search?q=网络支付")
    visitor.click("a.hit-link")
    visitor.wait_for_selector("img.public-page")
    body = visitor.content()
    assert ID_NUMBER not in body and "██████████████████" in body
    assert (
        visitor.evaluate("document.querySelector('img.public-page').naturalWidth") > 0
    )  # the redacted image loads
    _shot(visitor, "public-item")
    visitor.goto("/public/search?q=水库")
    assert visitor.locator("a.hit-link").count() == 0
