"""A small catalog with users, a recording (real audio as its access copy) and a scanned
page (a real image), in a fresh Lantai home, for the web tests."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Item, ItemStatus, Page, Segment, Transcript
from catalog.search import reindex_item
from configs import get_settings
from storage import open_store
from tasks import media
from tests.conftest import SAMPLES, free_port
from web.app import create_app
from web.security import add_user

PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"
ID_NUMBER = "11010519491231002X"  # a valid resident ID number (checksum), planted for screening


@dataclass
class Seeded:
    recording: int
    scan: int
    closed: int
    transcript: int
    segments: list[int]
    page: int
    closed_page: int = 0


def _seed(session: Session) -> Seeded:
    store = open_store(get_settings())
    coll = Collection(code="ORAL", name="口述史")
    session.add(coll)
    session.flush()
    for name, role in [
        ("ed", "editor"),
        ("eve", "editor"),
        ("boss", "admin"),
        ("col", "collector"),
        ("op", "operator"),
    ]:
        add_user(session, name=name, role=role, password=PASSWORD)
    rec = Item(
        collection_id=coll.id,
        reference_code="J001-LY·2024·Y-001",
        title="口述寄语",
        kind="recording",
        status=ItemStatus.enriched,
        access=Access.open,
        date="20240501",
        narrator="王大妈",
    )
    scan = Item(
        collection_id=coll.id,
        reference_code="J001-WS·2015·Y-001",
        title="关于网络支付方式的说明",
        kind="scan",
        status=ItemStatus.enriched,
        access=Access.open,
        date="20150601",
    )
    closed = Item(
        collection_id=coll.id,
        reference_code="J001-WS·2015·Y-002",
        title="内部 水库 材料",
        kind="scan",
        status=ItemStatus.enriched,
        access=Access.controlled,
    )
    session.add_all([rec, scan, closed])
    session.flush()
    wav = SAMPLES / "寄语.wav"
    master = Asset(item_id=rec.id, role="master", key="masters/aa/rec/寄语.wav", sha256="a" * 64)
    session.add(master)
    session.flush()
    store.put_file("derivatives/aa/access.wav", wav, content_type="audio/wav")
    session.add(
        Asset(
            item_id=rec.id,
            role="access",
            key="derivatives/aa/access.wav",
            sha256="b" * 64,
            media_type="audio/wav",
            source_asset_id=master.id,
        )
    )
    peaks = media.waveform_peaks(wav, Path(tempfile.mkdtemp()) / "peaks.json", media.probe(wav))
    store.put_file("derivatives/aa/peaks.json", peaks, content_type="application/json")
    session.add(
        Asset(
            item_id=rec.id,
            role="peaks",
            key="derivatives/aa/peaks.json",
            sha256="e" * 64,
            media_type="application/json",
            source_asset_id=master.id,
        )
    )
    tr = Transcript(
        item_id=rec.id, asset_id=master.id, language="zh", duration=3.5, engine="faster-whisper", model="base"
    )
    session.add(tr)
    session.flush()
    texts = ["希望你以后能够做的比我还好呦", f"危险文本 {XSS} 电话 139 1234 5678 结束", "第三段 谢谢大家"]
    segs = []
    for i, text in enumerate(texts):
        step = round(1.0 / len(text), 3)  # the clip is 3.5 s: three segments of about a second
        words = (
            [
                {
                    "start": round(step * k, 3),
                    "end": round(step * (k + 1), 3),
                    "word": ch,
                    "probability": 0.3 if k == 1 else 0.95,
                }
                for k, ch in enumerate(text)
            ]
            if i == 0
            else []
        )
        seg = Segment(
            transcript_id=tr.id,
            seq=i,
            start=1.1 * i,
            end=1.1 * i + 1.0,
            text=text,
            raw_text=text,
            confidence=0.8,
            words=words,
        )
        session.add(seg)
        segs.append(seg)
    session.flush()
    img = SAMPLES / "网络支付.png"
    w, h = Image.open(img).size
    store.put_file("derivatives/bb/page-1.png", img, content_type="image/png")
    scan_master = Asset(item_id=scan.id, role="master", key="masters/bb/scan.png", sha256="c" * 64)
    closed_master = Asset(item_id=closed.id, role="master", key="masters/cc/x.png", sha256="d" * 64)
    session.add_all([scan_master, closed_master])
    session.flush()
    lines = [
        {
            "text": "网络支付方式说明",
            "bbox": [10, 10, w // 2, 40],
            "conf": 91,
            "words": [
                {"text": ch, "bbox": [10 + 20 * k, 10, 30 + 20 * k, 40], "conf": 40 if k == 2 else 92}
                for k, ch in enumerate("网络支付方式说明")
            ],
        },
        {"text": f"备注 {XSS}", "bbox": [10, 50, w // 2, 80], "conf": 88, "words": []},
        {"text": "账户余额", "bbox": [10, 90, w // 3, 120], "conf": 85, "words": []},
        {
            "text": f"身份证 {ID_NUMBER}",
            "bbox": [10, 130, w - 10, 160],
            "conf": 90,
            "words": [
                {"text": "身份证", "bbox": [10, 130, 70, 160], "conf": 90},
                {"text": ID_NUMBER, "bbox": [80, 130, w - 10, 160], "conf": 90},
            ],
        },
    ]
    page = Page(
        item_id=scan.id,
        asset_id=scan_master.id,
        page_no=1,
        text="\n".join(x["text"] for x in lines),
        lines=lines,
        width=w,
        height=h,
        mean_conf=70,
        image_key="derivatives/bb/page-1.png",
    )
    session.add(page)
    closed_page = Page(
        item_id=closed.id,
        asset_id=closed_master.id,
        page_no=1,
        text="水库秘密",
        lines=[{"text": "水库秘密", "bbox": [0, 0, 10, 10], "conf": 90, "words": []}],
        width=10,
        height=10,
        image_key="derivatives/bb/page-1.png",  # an image, so IIIF has something to refuse
    )
    session.add(closed_page)
    session.flush()
    for item in (rec, scan, closed):
        reindex_item(session, item)
    return Seeded(
        rec.id or 0,
        scan.id or 0,
        closed.id or 0,
        tr.id or 0,
        [s.id or 0 for s in segs],
        page.id or 0,
        closed_page.id or 0,
    )


@pytest.fixture
def seeded(home: Path) -> Seeded:
    with Session(get_engine(get_settings().db_url)) as session:
        data = _seed(session)
        session.commit()
    return data


class Browser(TestClient):
    """A TestClient that signs in like a browser and sends the CSRF token like the pages do."""

    csrf = ""

    def login(self, name: str, password: str = PASSWORD) -> Browser:
        form = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        r = self.post(
            "/login",
            data={"username": name, "password": password, "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        page = self.get("/review")
        self.csrf = re.search(r'data-csrf="([^"]+)"', page.text)[1]  # type: ignore[index]
        return self

    def api(self, method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
        return self.request(method, url, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def client(seeded: Seeded) -> Iterator[Browser]:
    with Browser(create_app()) as c:
        yield c


@pytest.fixture
def clients(seeded: Seeded) -> Iterator[dict[str, Browser]]:
    """One signed-in browser per user."""
    app = create_app()
    made = {name: Browser(app).login(name) for name in ("ed", "eve", "boss", "col", "op")}
    yield made
    for c in made.values():
        c.close()


@pytest.fixture
def live_server(seeded: Seeded) -> Iterator[str]:
    """The app on a real port (uvicorn in a thread), for the browser tests."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def screen_and_redact(item_id: int) -> None:
    """Screen an item as enrichment does (its hits become open flags, masked for the public)
    and make its redacted public copies as the worker does."""
    from catalog.review.screening import term_lists
    from flows.publish import public_copies as redact_item
    from flows.publish import screen_and_index as screen_item

    with Session(get_engine(get_settings().db_url)) as s:
        item = s.get(Item, item_id)
        assert item is not None
        screen_item(s, item, term_lists(get_settings(), None))
        s.commit()
    redact_item(item_id)
