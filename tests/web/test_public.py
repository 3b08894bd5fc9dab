"""Open review end to end: screening flags, two review rounds, redacted public derivatives,
and the leak tests — nothing controlled or masked reaches the public through search
snippets, facet counts, direct URLs, exports or the JSON API."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, select

from catalog.db import get_engine, session_scope
from catalog.models import Access, Flag, Item, Job, Page
from catalog.review.screening import term_lists
from configs import get_settings
from flows.jobs import run_jobs
from flows.publish import screen_and_index as screen_item
from tests.web.conftest import ID_NUMBER, Browser, Seeded
from web.app import create_app


def _db() -> Session:
    return Session(get_engine(get_settings().db_url))


@pytest.fixture
def screened(seeded: Seeded) -> Seeded:
    """The recording and the scan start unreviewed and are screened, as enrichment does."""
    with _db() as s:
        for item_id in (seeded.recording, seeded.scan):
            item = s.get(Item, item_id)
            assert item is not None
            item.access = Access.unreviewed
            screen_item(s, item, term_lists(get_settings(), None))
        s.commit()
    return seeded


def _flags(item_id: int) -> list[Flag]:
    with _db() as s:
        return list(s.exec(select(Flag).where(Flag.item_id == item_id, Flag.kind == "pii")).all())


def _open(clients: dict[str, Browser], item_id: int) -> None:
    """Confirm every screening flag, then two reviewers open the item."""
    ed, eve = clients["ed"], clients["eve"]
    for f in _flags(item_id):
        r = ed.post(
            f"/flags/{f.id}", data={"decision": "confirm", "reason": "个人信息", "csrf_token": ed.csrf}
        )
        assert r.status_code == 200, r.text
    form = {"access": "开放", "reason": "已遮蔽个人信息，可以开放"}
    assert ed.post(f"/items/{item_id}/access", data=form | {"csrf_token": ed.csrf}).status_code == 200
    with _db() as s:
        assert s.get(Item, item_id).access == Access.unreviewed  # type: ignore[union-attr]  # round 1 only
    # the same reviewer cannot make the second round
    assert ed.post(f"/items/{item_id}/access", data=form | {"csrf_token": ed.csrf}).status_code == 409
    assert eve.post(f"/items/{item_id}/access", data=form | {"csrf_token": eve.csrf}).status_code == 200
    with _db() as s:
        assert s.get(Item, item_id).access == Access.open  # type: ignore[union-attr]
        # the web app only queued the redacted copies: a worker makes them
        queued = s.exec(select(Job).where(Job.item_id == item_id, Job.kind == "redact")).all()
        assert [j.state for j in queued] == ["queued"]
    html = Browser(create_app()).get(f"/public/items/{item_id}").text
    assert "公开版本正在生成" in html  # nothing unredacted meanwhile
    done = run_jobs()
    assert {(d["kind"], d["item_id"], d["error"]) for d in done} == {("redact", item_id, "")}


def test_screening_finds_the_planted_information(clients: dict[str, Browser], screened: Seeded) -> None:
    scan = _flags(screened.scan)
    assert [(f.category, f.page_no, f.preview) for f in scan] == [("id_number", 1, "110***********002X")]
    assert scan[0].bbox is not None and scan[0].bbox[1] == 130  # the word's box, not the whole page
    with session_scope(get_settings()) as session:  # the page by its row as well as its number
        page = session.exec(select(Page).where(Page.item_id == screened.scan, Page.page_no == 1)).one()
        assert scan[0].page_id == page.id
    [phone] = _flags(screened.recording)
    assert (
        phone.category == "mobile"
        and phone.segment_id == screened.segments[1]
        and phone.preview == "139****5678"
    )
    queue = clients["ed"].get("/screening").text
    assert "J001-WS·2015·Y-001" in queue and "J001-LY·2024·Y-001" in queue
    page = clients["ed"].get(f"/items/{screened.scan}/screening").text
    assert "110***********002X" in page and ID_NUMBER not in page
    # collectors do not review
    assert clients["col"].get("/screening", follow_redirects=False).status_code == 403


def test_opening_needs_every_flag_decided_and_a_reason(clients: dict[str, Browser], screened: Seeded) -> None:
    ed, eve = clients["ed"], clients["eve"]
    no_reason = {"access": "开放", "reason": " ", "csrf_token": ed.csrf}
    assert ed.post(f"/items/{screened.scan}/access", data=no_reason).status_code == 422
    ed.post(
        f"/items/{screened.scan}/access", data={"access": "开放", "reason": "初审", "csrf_token": ed.csrf}
    )
    r = eve.post(
        f"/items/{screened.scan}/access", data={"access": "开放", "reason": "复审", "csrf_token": eve.csrf}
    )
    assert r.status_code == 409 and "undecided" in r.text
    [flag] = _flags(screened.scan)
    r = ed.post(f"/flags/{flag.id}", data={"decision": "dismiss", "reason": "", "csrf_token": ed.csrf})
    assert r.status_code == 422  # dismissing needs a reason


def test_public_sees_only_open_redacted_material(
    clients: dict[str, Browser], screened: Seeded, tmp_path: Path
) -> None:
    public = Browser(create_app())
    # before review: nothing at all
    assert public.get("/public/search?q=网络支付").text.count('class="hit"') == 0
    assert public.get(f"/public/items/{screened.scan}").status_code == 404
    _open(clients, screened.scan)
    _open(clients, screened.recording)

    # search: the open scan is found; the masked number is not, not even by part of it
    found = public.get("/public/search?q=网络支付").text
    assert f"/public/items/{screened.scan}" in found
    for q in (ID_NUMBER, "110105194912", "13912345678", "139"):
        assert 'class="hit"' not in public.get(f"/public/search?q={q}").text, q
    # the staff still find it
    assert clients["ed"].api("GET", f"/api/search?q={ID_NUMBER}").json()["hits"]

    # the item page: masked text, the redacted image, never the original image key
    html = public.get(f"/public/items/{screened.scan}").text
    assert ID_NUMBER not in html and "█" in html and "derivatives/bb/page-1.png" not in html
    img_url = re.search(r'<img src="([^"]+)"', html)[1].replace("&amp;", "&")  # type: ignore[index]
    img = np.asarray(Image.open(io.BytesIO(public.get(img_url).content)).convert("L"))
    assert img[132:158, 80:290].max() == 0  # the number's box is black
    assert img[15:35, 10:100].max() > 0  # the rest is not
    text = public.get(f"/public/items/{screened.scan}/text.txt").text
    assert ID_NUMBER not in text and "身份证 ██████████████████" in text

    # the recording: the phone number masked in the text and silenced in the audio
    html = public.get(f"/public/items/{screened.recording}").text
    assert "139 1234 5678" not in html and "电话 ███ ████ ████" in html
    audio_url = re.search(r'<audio[^>]+src="([^"]+)"', html)[1].replace("&amp;", "&")  # type: ignore[index]
    (tmp_path / "public.mp4").write_bytes(public.get(audio_url).content)
    pcm = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(tmp_path / "public.mp4"),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(pcm, dtype=np.int16).astype(float)
    [flag] = _flags(screened.recording)
    a, b = (
        int((flag.start or 0) * 16000) + 800,
        int((flag.end or 0) * 16000) - 800,
    )  # inside the span, past AAC edges
    assert np.abs(samples[a:b]).max() < 50  # silence
    assert np.abs(samples[: int(1.0 * 16000)]).max() > 1000  # speech elsewhere is kept


def test_controlled_items_never_leak(clients: dict[str, Browser], screened: Seeded) -> None:
    public = Browser(create_app())
    closed = screened.closed  # 控制, its page says 水库秘密
    page = public.get("/public/search?q=水库").text
    assert "水库秘密" not in page and "内部" not in page and 'class="hit"' not in page
    assert "<h3>" not in page  # no facet counts from controlled items
    for url in (f"/public/items/{closed}", f"/public/items/{closed}/text.txt"):
        assert public.get(url).status_code == 404
    r = public.post(f"/public/items/{closed}/request", data={"name": "x", "contact": "x@x.org"})
    assert r.status_code in (403, 404)
    # not-open and staff routes are not public
    assert public.get("/api/search?q=水库").status_code == 401
    assert public.get(f"/api/items/{closed}/segments").status_code == 401
    assert public.get(f"/items/{closed}/export/txt", follow_redirects=False).status_code == 303
    # an unknown item and a controlled one answer the same
    unknown, hidden = public.get("/public/items/999999"), public.get(f"/public/items/{closed}")
    assert unknown.status_code == hidden.status_code == 404
    assert unknown.text.replace("999999", str(closed)) == hidden.text


def test_copy_requests_reach_the_staff(clients: dict[str, Browser], screened: Seeded) -> None:
    _open(clients, screened.scan)
    public = Browser(create_app())
    form_page = public.get(f"/public/items/{screened.scan}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page)[1]  # type: ignore[index]
    data = {"name": "李明", "contact": "liming@example.org", "purpose": "家族史研究 <b>x</b>"}
    assert public.post(f"/public/items/{screened.scan}/request", data=data).status_code == 403  # no token
    r = public.post(f"/public/items/{screened.scan}/request", data=data | {"csrf_token": token})
    assert r.status_code == 200 and "request-sent" in r.text
    staff = clients["ed"].get("/requests").text
    assert "李明" in staff and "家族史研究 &lt;b&gt;x&lt;/b&gt;" in staff
    # the visitors' names and contacts are for the editors who handle requests only
    for role in ("col", "op"):
        denied = clients[role].get("/requests")
        assert denied.status_code == 403 and "李明" not in denied.text
