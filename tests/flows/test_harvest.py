"""The union catalog across two Lantai instances on one machine (A serves, B harvests), the
copy request forwarded from B to A (跨馆出证), and hostile feeds that must be refused with a
reason while the other sources are harvested."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlmodel import select

from catalog.db import session_scope
from catalog.models import ForwardedRequest, UnionRecord
from catalog.publish import union
from configs import get_settings
from flows.harvest import harvest_flow
from tests.conftest import REPO, free_port

KEY = "a shared key of the two archives"
SEED_A = """
from catalog.db import session_scope
from catalog.models import Access, Collection, Item, ItemStatus, Partner
from catalog.review.openreview import decide_access
from catalog.search import reindex_item
from configs import get_settings

with session_scope(get_settings()) as s:
    coll = Collection(code="XA", name="西安市档案馆馆藏")
    s.add(coll)
    s.flush()
    def item(code, title, access=Access.unreviewed, **kw):
        it = Item(collection_id=coll.id, reference_code=code, title=title, kind="scan",
                  status=ItemStatus.enriched, access=access, date="19560301", **kw)
        s.add(it)
        s.flush()
        return it
    opened = item("J101-WS·1956·Y-001", "西安水库工程竣工报告", abstract="关于灞河水库竣工验收的报告")
    item("J101-WS·1956·Y-002", "水库内部人事材料 绝密", access=Access.controlled)
    decide_access(s, item_id=opened.id, access=Access.open, reason="审核通过", reviewer="ed", rounds=1)
    s.add(Partner(name="lantai-b.example", key=%(key)r))
    for it in s.exec(__import__("sqlmodel").select(Item)).all():
        reindex_item(s, it)
    print(opened.id)
"""
CLOSE_A = """
from catalog.db import session_scope
from catalog.review.openreview import decide_access
from configs import get_settings
with session_scope(get_settings()) as s:
    decide_access(s, item_id=%(item)d, access="控制", reason="复查后收回", reviewer="ed", rounds=1)
"""
READ_A = """
import json
from sqlmodel import select
from catalog.db import session_scope
from catalog.models import CopyRequest
from configs import get_settings
with session_scope(get_settings()) as s:
    rows = s.exec(select(CopyRequest)).all()
    print(json.dumps([{"item_id": r.item_id, "name": r.name, "purpose": r.purpose} for r in rows]))
    for r in rows:
        r.status = "done"
        s.add(r)
"""


def _env_a(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTAI_")}
    return env | {"LANTAI_HOME": str(home), "LANTAI_OAI__REPOSITORY_IDENTIFIER": "lantai-a.example",
                  "LANTAI_OAI__REPOSITORY_NAME": "西安市档案馆"}  # fmt: skip


def _python(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def archive_a(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    """Lantai A in its own home and process: one open and one controlled record."""
    env = _env_a(tmp_path / "a")
    opened = int(_python(env, SEED_A % {"key": KEY}))
    port = free_port()
    server = subprocess.Popen(
        [str(REPO / ".venv/bin/lantai"), "serve", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/oai?verb=Identify", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("Lantai A did not start") from None
            time.sleep(0.2)
    yield url, env, opened
    server.terminate()
    server.wait(timeout=20)


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_b_harvests_a_finds_its_open_record_and_forwards_a_copy_request(
    home: Path, archive_a: tuple[str, dict[str, str], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    url_a, env_a, opened = archive_a
    monkeypatch.setenv("LANTAI_OAI__REPOSITORY_IDENTIFIER", "lantai-b.example")
    get_settings.cache_clear()
    with session_scope(get_settings()) as s:
        union.add_source(s, name="xian", url=f"{url_a}/oai", key=KEY)
    [result] = harvest_flow()
    assert result["status"] == "ok" and result["records"] == 1, result
    with session_scope(get_settings()) as s:
        hits = union.search(s, "水庫")  # traditional query, simplified record
        assert [(h.holder, h.title) for h in hits] == [("西安市档案馆", "西安水库工程竣工报告")]
        assert hits[0].link == f"{url_a}/public/items/{opened}"
        assert union.search(s, "绝密") == [] and union.search(s, "人事") == []
        assert not any("绝密" in r.title for r in s.exec(select(UnionRecord)).all())
        record_id = hits[0].record_id
    # the link works: A's public page of the record
    assert "西安水库工程竣工报告" in urllib.request.urlopen(hits[0].link, timeout=10).read().decode()

    # the CLI shows it too, with the holder and the link
    cli = subprocess.run(
        [str(REPO / ".venv/bin/lantai"), "search", "水库", "--union", "--json"],
        env=os.environ | {"LANTAI_OAI__REPOSITORY_IDENTIFIER": "lantai-b.example"},
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    [other] = [h for h in json.loads(cli.stdout) if h["item_id"] is None]
    assert other["holder"] == "西安市档案馆" and other["link"] == f"{url_a}/public/items/{opened}"

    # 跨馆出证: a visitor of B asks for a copy; A receives it, B reads its status back
    from fastapi.testclient import TestClient

    from tests.web.conftest import PASSWORD, Browser
    from web.app import create_app
    from web.security import add_user

    with session_scope(get_settings()) as s:
        add_user(s, name="ed", role="editor", password=PASSWORD)
    with Browser(create_app()) as staff:  # staff search lists other archives' hits too
        page = staff.login("ed").get("/search", params={"q": "水库"}).text
        assert (
            'id="union-results"' in page and "西安市档案馆" in page and f"/public/union/{record_id}" in page
        )

    app = create_app()
    app.state.relay.interval = 0.2  # the relay re-reads statuses every 0.2 s instead of every minute
    with TestClient(app) as browser:
        page = browser.get("/public/search", params={"q": "水库", "scope": "union"})
        assert "西安市档案馆" in page.text and f"/public/union/{record_id}" in page.text
        form = browser.get(f"/public/union/{record_id}")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        sent = browser.post(
            f"/public/union/{record_id}/request",
            data={"name": "张三", "contact": "zhang@example.com", "purpose": "学术研究", "csrf_token": token},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        status_url = sent.headers["location"]
        # the relay forwards it in the background; the page shows what it last read
        assert _eventually(lambda: "馆藏单位已受理" in browser.get(status_url).text)
        received = json.loads(_python(env_a, READ_A))
        assert [(r["item_id"], r["name"]) for r in received] == [(opened, "张三")]
        assert "lantai-b.example" in received[0]["purpose"]
        assert _eventually(lambda: "已办结" in browser.get(status_url).text)  # A marked it done; B reads it
        assert browser.get(status_url.split("?")[0] + "?t=guess").status_code == 404
    with session_scope(get_settings()) as s:
        assert s.exec(select(ForwardedRequest)).one().status == "done"

    # a forged request to A (wrong key) is refused
    body = json.dumps(
        {"identifier": f"oai:lantai-a.example:{opened}", "name": "x", "contact": "x@y.z"}
    ).encode()
    forged = urllib.request.Request(
        f"{url_a}/partner/requests", data=body, method="POST",
        headers={"X-Lantai-Partner": "lantai-b.example", "X-Lantai-Timestamp": str(int(time.time())),
                 "X-Lantai-Signature": "0" * 64, "Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)
    assert refused.value.code == 403

    # a correctly signed request is answered once; the same request replayed (same nonce,
    # same signature, inside the freshness window) is refused
    from catalog.publish.partners import signature

    stamp, nonce = str(int(time.time())), "n" * 24
    signed = {"X-Lantai-Partner": "lantai-b.example", "X-Lantai-Timestamp": stamp, "X-Lantai-Nonce": nonce,
              "X-Lantai-Signature": signature(KEY, stamp, nonce, "POST", "/partner/requests", body),
              "Content-Type": "application/json"}  # fmt: skip
    first = urllib.request.Request(f"{url_a}/partner/requests", data=body, method="POST", headers=signed)
    assert urllib.request.urlopen(first, timeout=10).status == 200
    with pytest.raises(urllib.error.HTTPError) as replayed:
        urllib.request.urlopen(first, timeout=10)
    assert replayed.value.code == 403

    # closed on A: gone from B after the next (incremental) harvest
    _python(env_a, CLOSE_A % {"item": opened})
    time.sleep(1.1)  # datestamps are to the second
    [again] = harvest_flow()
    assert again["status"] == "ok" and again["deleted"] == 1 and again["records"] == 0, again
    with session_scope(get_settings()) as s:
        assert union.search(s, "水库") == []


# ---------------------------------------------------------------- hostile feeds

IDENTIFY = (
    '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-30T00:00:00Z'
    "</responseDate><request>x</request><Identify><repositoryName>{name}</repositoryName><baseURL>x</baseURL>"
    "<protocolVersion>2.0</protocolVersion><adminEmail>a@b.c</adminEmail><earliestDatestamp>2000-01-01T00:00:00Z"
    "</earliestDatestamp><deletedRecord>no</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>"
    "</OAI-PMH>"
)
FORMATS = (
    '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-30T00:00:00Z'
    "</responseDate><request>x</request><ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix>"
    "<schema>x</schema><metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace>"
    "</metadataFormat></ListMetadataFormats></OAI-PMH>"
)


def _records(records: str, token: str = "") -> str:
    tok = f"<resumptionToken>{token}</resumptionToken>" if token else ""
    return (
        '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>'
        f"2026-11-30T00:00:00Z</responseDate><request>x</request><ListRecords>{records}{tok}</ListRecords></OAI-PMH>"
    )


def _dc(identifier: str, title: str) -> str:
    return (
        f"<record><header><identifier>{identifier}</identifier><datestamp>2026-01-01</datestamp></header>"
        '<metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
        "<dc:identifier>javascript:alert(1)</dc:identifier></oai_dc:dc></metadata></record>"
    )


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>&lol3;</responseDate></OAI-PMH>'
)


class Feeds(http.server.BaseHTTPRequestHandler):
    """/good, /malformed, /laughs, /huge, /endless, /loop: one feed each."""

    calls: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        feed, _, query = self.path.lstrip("/").partition("?")
        Feeds.calls[feed] = Feeds.calls.get(feed, 0) + 1
        if "verb=Identify" in query:
            body = IDENTIFY.format(name=feed)
        elif "verb=ListMetadataFormats" in query:
            body = FORMATS
        elif feed == "good":
            body = _records(
                _dc("oai:good:1", "好的记录 水库") + _dc("oai:good:2", "<b>第二条</b>".replace("<", "&lt;"))
            )
        elif feed == "malformed":
            body = _records(_dc("oai:m:1", "未闭合")).replace("</ListRecords>", "")
        elif feed == "laughs":
            body = BILLION_LAUGHS
        elif feed == "huge":  # one record of 300 KB (over the cap), one ordinary record
            body = _records(_dc("oai:h:1", "巨" * 100_000) + _dc("oai:h:2", "正常记录"))
        elif feed == "trickle":  # a byte every 0.2 s: no socket operation ever times out
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", "10000000")
            self.end_headers()
            try:
                for _ in range(3000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the harvester hung up: what the deadline is for
            return
        elif feed == "endless":  # a new token every time, for ever
            n = Feeds.calls[feed]
            body = _records(_dc(f"oai:e:{n}", f"记录 {n}"), token=f"t{n}")
        else:  # loop: the same token again and again
            body = _records(_dc("oai:l:1", "循环"), token="same")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_hostile_feeds_are_refused_with_a_reason_and_the_others_are_harvested(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feeds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    import flows.harvest

    monkeypatch.setattr(flows.harvest, "MAX_PAGES", 50)
    monkeypatch.setenv("LANTAI_OAI__HARVEST_DEADLINE", "5")  # seconds per source
    get_settings.cache_clear()
    names = ["malformed", "laughs", "huge", "endless", "loop", "good", "trickle"]
    with session_scope(get_settings()) as s:
        for name in names:
            union.add_source(s, name=name, url=f"{base}/{name}")
        union.add_source(s, name="nowhere", url="http://127.0.0.1:9/oai")
    results = {r["source"]: r for r in harvest_flow()}
    server.shutdown()
    assert results["good"]["status"] == "ok" and results["good"]["records"] == 2
    assert results["huge"]["status"] == "ok" and results["huge"]["records"] == 1
    assert results["huge"]["rejected"] == 1 and "larger than" in results["huge"]["rejected_examples"][0]
    failing = ("malformed", "laughs", "endless", "loop", "nowhere", "trickle")
    reasons = {name: results[name]["error"] for name in failing}
    assert all(results[n]["status"] == "failed" for n in reasons)
    assert "malformed XML" in reasons["malformed"]
    assert "DTD" in reasons["laughs"] or "entities" in reasons["laughs"]
    assert "50 pages" in reasons["endless"] and Feeds.calls["endless"] <= 52
    assert "repeats a resumption token" in reasons["loop"]
    assert "cannot reach" in reasons["nowhere"]
    # the trickling feed is stopped by the source's deadline, not held for ever
    assert "deadline" in reasons["trickle"] and results["trickle"]["seconds"] < 15
    with session_scope(get_settings()) as s:
        good = union.search(s, "水库")
        assert [h.title for h in good] == ["好的记录 水库"] and good[0].link == ""  # javascript: dropped
        assert [h.title for h in union.search(s, "第二条")] == ["<b>第二条</b>"]  # stored as text
        sources = {src.name: src for src in union.sources(s)}
        assert sources["laughs"].status == "failed" and sources["good"].status == "ok"
