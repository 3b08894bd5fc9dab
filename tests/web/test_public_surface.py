"""The public surface never errors and cannot be held (issue 30, part 7): every id bounded,
secrets compared as bytes, OAI-PMH dates within the protocol and no control characters
echoed, IIIF without upscaling for visitors and revalidating caches, ranges and boxes
bounded, text that is not Unicode refused, Markdown exports without block syntax from the
text, and the partner status page answered from the catalog alone."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import ForwardedRequest, HarvestSource, UnionRecord
from catalog.projects.exports import md_escape
from configs import get_settings
from tests.conftest import free_port
from tests.web.conftest import Browser, Seeded
from tests.web.test_access import _routes
from web.app import create_app

HUGE = "123456789012345678901"  # 21 digits: past SQLite's and PostgreSQL's integers


def _routes_with_ids(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route with a numeric path parameter, from the route table."""
    out = []
    for route in _routes(app.routes):
        names = re.findall(r"{(\w+)}", route.path)
        numeric = [n for n in names if n.endswith("_id") or n in ("page_no", "line", "identifier")]
        if not numeric:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            filled = route.path
            for name in names:
                filled = filled.replace("{" + name + "}", HUGE if name in numeric else "txt")
            out.append((method, filled))
    return out


def test_huge_ids_are_not_found_on_every_route(clients: dict[str, Browser], seeded: Seeded) -> None:
    app = create_app()
    anonymous = Browser(app)
    anonymous.get("/public/search")
    anonymous.csrf = anonymous.cookies.get("lantai_csrf") or ""
    routes = _routes_with_ids(app)
    assert len(routes) >= 25, routes  # the route table, not a hand-picked list
    for who, browser in [("anonymous", anonymous), ("admin", clients["boss"]), ("editor", clients["ed"])]:
        for method, path in routes:
            r = browser.request(method, path, headers={"X-CSRF-Token": browser.csrf}, follow_redirects=False)
            assert r.status_code < 500, (who, method, path, r.status_code, r.text[:200])
            if method == "GET" and r.status_code not in (303, 401, 403):
                assert r.status_code == 404, (who, method, path, r.status_code)
    # numbers in query strings, forms and JSON bodies are bounded too (422, never 500)
    ed = clients["ed"]
    assert ed.get(f"/items/{seeded.recording}/recording", params={"segment": HUGE}).status_code == 422
    r = ed.api("PUT", f"/api/segments/{seeded.segments[0]}", {"text": "x", "version": int(HUGE)})
    assert r.status_code == 422
    assert (
        clients["op"]
        .post("/dashboard/retry", data={"item_id": HUGE, "csrf_token": clients["op"].csrf})
        .status_code
        == 422
    )


def test_text_that_is_not_unicode_is_refused(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    body = '{"text": "\\ud800 孤立的代理", "version": 0}'  # a lone surrogate, as JSON allows
    r = ed.request(
        "PUT",
        f"/api/segments/{seeded.segments[0]}",
        content=body.encode(),
        headers={"X-CSRF-Token": ed.csrf, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "Unicode" in r.text
    # nothing was kept: the segment reads as before
    page = ed.get(f"/api/items/{seeded.recording}/segments").json()
    assert "孤立" not in str(page)


def test_secrets_with_non_ascii_characters_are_refused_not_errors(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    anonymous = Browser(create_app())
    # a CSRF token, an OAI resumption token, a forwarded request's token, an object signature
    r = clients["ed"].request(
        "PUT", f"/api/segments/{seeded.segments[0]}", json={"text": "x", "version": 0},
        headers={"X-CSRF-Token": "签名签名".encode()},  # raw UTF-8 bytes in a header
    )  # fmt: skip
    assert r.status_code == 403
    oai = anonymous.get("/oai", params={"verb": "ListRecords", "resumptionToken": "载荷.签名"})
    assert oai.status_code == 200 and 'code="badResumptionToken"' in oai.text
    assert anonymous.get("/public/union/requests/1", params={"t": "签名"}).status_code == 404
    assert (
        anonymous.get("/objects/a/b.jpg", params={"expires": "9999999999", "signature": "签名"}).status_code
        == 403
    )


def test_oai_dates_cover_the_protocol_range_and_control_characters_are_not_echoed(
    client: Browser, seeded: Seeded
) -> None:
    for until in ("9999-12-31", "9999-12-31T23:59:59Z"):
        r = client.get("/oai", params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": until})
        assert r.status_code == 200
        root = ET.fromstring(r.content)
        assert root.find("{http://www.openarchives.org/OAI/2.0/}error") is None, r.text
    r = client.get("/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "0001-01-01"})
    assert r.status_code == 200 and "error" not in r.text.split("<request")[0]
    for value in ("oai:x:1%01%02", "oai:x:1%0B", "%ED%A0%80%FF"):  # controls; a UTF-8 surrogate, bad bytes
        r = client.get(f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={value}")
        ET.fromstring(r.content)  # well-formed XML whatever was asked
        assert "\x01" not in r.text and "\x0b" not in r.text


OAI_VERBS = ["Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers", "ListRecords", ""]
OAI_ARGS = ["verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken", "x"]
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_stamp = st.one_of(
    st.dates().map(str),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}(T[0-9:]{0,9}Z?)?\Z"),
    _text,
)


@st.composite
def _oai_request(draw: Any) -> list[tuple[str, str]]:
    params = [("verb", draw(st.sampled_from(OAI_VERBS)))]
    for name in draw(st.lists(st.sampled_from(OAI_ARGS[1:]), max_size=4)):
        value = draw(_stamp if name in ("from", "until") else st.one_of(_text, st.just("oai_dc")))
        params.append((name, value))
    return params


def test_oai_grammar_fuzzed_gives_well_formed_answers(client: Browser, seeded: Seeded) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_oai_request(), st.booleans())
    def one(params: list[tuple[str, str]], post: bool) -> None:
        if post:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            r = client.post("/oai", content=urllib.parse.urlencode(params).encode(), headers=form)
        else:
            r = client.get("/oai", params=params)
        assert r.status_code == 200, (params, r.status_code)
        root = ET.fromstring(r.content)
        assert root.tag == "{http://www.openarchives.org/OAI/2.0/}OAI-PMH"

    one()


_iiif_num = st.one_of(
    st.integers(0, 5000).map(str), st.integers(10**9, 10**40).map(str), st.just("1" * 5000),
    st.floats(0, 1e12, allow_nan=False).map(lambda f: f"{f:.3f}"), st.just("inf"), st.just("-1"),
)  # fmt: skip


@st.composite
def _iiif_request(draw: Any) -> str:
    n = lambda: draw(_iiif_num)  # noqa: E731
    box = f"{n()},{n()},{n()},{n()}"
    region = draw(st.sampled_from(["full", "square", box, f"pct:{box}"]))
    sizes = [
        "max",
        "^max",
        f"{n()},",
        f",{n()}",
        f"!{n()},{n()}",
        f"^{n()},{n()}",
        f"pct:{n()}",
        f"^pct:{n()}",
    ]
    size = draw(st.sampled_from(sizes))
    rotation = draw(st.sampled_from(["0", "90", "45", "!0", n()]))
    name = draw(st.sampled_from(["default.jpg", "gray.png", "bitonal.jpg", "default.gif", "x"]))
    return f"{region}/{size}/{rotation}/{name}"


def test_iiif_grammar_fuzzed_never_errors_and_never_upscales_for_visitors(
    client: Browser, clients: dict[str, Browser], seeded: Seeded
) -> None:
    from tests.web.conftest import screen_and_redact

    screen_and_redact(seeded.scan)
    info = client.get(f"/iiif/image/{seeded.page}/info.json").json()
    width, height = info["width"], info["height"]
    assert "sizeUpscaling" not in info.get("extraFeatures", []) and info["maxWidth"] <= width

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_iiif_request())
    def one(tail: str) -> None:
        r = client.get(f"/iiif/image/{seeded.page}/{tail}")
        assert r.status_code in (200, 400, 404, 501), (tail, r.status_code, r.text[:200])
        if r.status_code == 200:
            import io

            from PIL import Image

            with Image.open(io.BytesIO(r.content)) as im:
                # no upscaling for visitors (a quarter turn swaps the sides)
                assert max(im.size) <= max(width, height) and im.width * im.height <= width * height, tail

    one()
    # staff may still ask for upscaled sizes (their viewer's zoom), the public may not
    assert client.get(f"/iiif/image/{seeded.page}/full/^{width * 2},/0/default.jpg").status_code == 400
    assert clients["ed"].get(f"/iiif/image/{seeded.page}/full/^{width * 2},/0/default.jpg").status_code == 200


def test_public_images_and_manifests_revalidate(client: Browser, seeded: Seeded) -> None:
    from tests.web.conftest import screen_and_redact

    screen_and_redact(seeded.scan)
    for url in (
        f"/iiif/image/{seeded.page}/full/max/0/default.jpg",
        f"/iiif/image/{seeded.page}/info.json",
        f"/iiif/manifest/{seeded.scan}",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        age = int(re.search(r"max-age=(\d+)", r.headers["cache-control"])[1])  # type: ignore[index]
        assert age <= 300 and "must-revalidate" in r.headers["cache-control"], r.headers["cache-control"]
        etag = r.headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.content
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_ranges_and_boxes_with_huge_numbers_are_client_errors(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed = clients["ed"]
    page = ed.get(f"/items/{seeded.recording}/recording")
    link = re.search(r'(/objects/[^"\']+)', page.text)
    assert link, "the recording page links its audio"
    url = link[1].replace("&amp;", "&")
    assert ed.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    for value in ("bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 30, "bytes=99999999999999999-"):
        assert ed.get(url, headers={"Range": value}).status_code == 416, value
    for box in ("inf,0,10,10", "nan,1,1,1", "1e400,0,1,1", "-5,0,10,10", "1,2,3", "9" * 400 + ",1,1,1"):
        r = ed.get(f"/items/{seeded.scan}/pages/1", params={"box": box})
        assert r.status_code == 200, (box, r.status_code)


BLOCK_STARTS = ["# ", "## ", "- ", "+ ", "* ", "1. ", "1) ", "> ", "```", "~~~", "    code", "===", "---"]
BLOCK_STARTS += ["| a | b |", "|---|---|", "<div>", "[x]: http://e.x", "\r# ", "\t\tcode"]
BLOCK_TAGS = ("<h1", "<h2", "<h3", "<ul", "<ol", "<blockquote", "<pre", "<code", "<hr", "<table", "<div")
BLOCK_TAGS += ("<a ", "<img")  # links and images from the text


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.one_of(st.sampled_from(BLOCK_STARTS), st.text(max_size=12)), min_size=1, max_size=6),
    st.booleans(),
)
def test_markdown_escape_leaves_no_block_syntax_on_any_line(pieces: list[str], inline: bool) -> None:
    text = "\n".join(pieces)
    html = MarkdownIt("commonmark").enable("table").render(md_escape(text, inline=inline))
    for tag in BLOCK_TAGS:
        assert tag not in html, (text, html)
    if inline:
        assert html.count("<p>") <= 1


@pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"
def test_partner_status_page_never_waits_on_the_partner(seeded: Seeded) -> None:
    """Fifty visitors read a forwarded request's status while the holding archive accepts
    connections and never answers: the pages come from the catalog, the health check
    answers within a second, and the partner sees one connection at a time (the relay)."""
    import uvicorn

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(100)
    connections: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        hanging.settimeout(0.2)
        while not stop.is_set():
            try:
                connections.append(hanging.accept()[0])  # held open, never answered
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    partner_url = f"http://127.0.0.1:{hanging.getsockname()[1]}/oai"
    with Session(get_engine(get_settings().db_url)) as s:
        source = HarvestSource(name="slow", url=partner_url, key="k" * 20, status="ok")
        s.add(source)
        s.flush()
        record = UnionRecord(source_id=source.id or 0, identifier="oai:slow:1", title="远方的记录")
        s.add(record)
        s.flush()
        rows = [
            ForwardedRequest(
                record_id=record.id or 0, name="访客", contact="v@example.com", status="new", remote_id=7
            )
        ]
        rows.append(ForwardedRequest(record_id=record.id or 0, name="访客二", contact="w@example.com"))
        s.add_all(rows)
        s.commit()
        ids = [r.id or 0 for r in rows]

    app = create_app()
    app.state.relay.interval = 0.05
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    from web.routes.public import _forward_token

    class _Req:  # _forward_token reads the settings from the request's app
        def __init__(self) -> None:
            self.app = app

    urls = [f"{base}/public/union/requests/{i}?t={_forward_token(_Req(), i)}" for i in ids]  # type: ignore[arg-type]
    try:

        def visit(n: int) -> int:
            with urllib.request.urlopen(urls[n % 2], timeout=10) as r:
                return int(r.status)

        with ThreadPoolExecutor(50) as pool:
            pending = [pool.submit(visit, n) for n in range(50)]
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as health:
                assert health.status == 200
            assert [p.result() for p in pending] == [200] * 50
        assert len(connections) <= 2, len(connections)  # the relay's calls, one at a time
    finally:
        stop.set()
        server.should_exit = True
        thread.join(timeout=30)
        for c in connections:
            c.close()
        hanging.close()


def test_partner_requests_naming_no_possible_record_are_not_found(client: Browser, seeded: Seeded) -> None:
    """A correctly signed partner request whose identifier ends in digits that are not ASCII
    (``²``) or too many of them is a 404, not a server error."""
    import json

    from catalog.models import Partner
    from catalog.publish.partners import signature

    with Session(get_engine(get_settings().db_url)) as s:
        s.add(Partner(name="peer.example", key="a shared key"))
        s.commit()
    for n, tail in enumerate(("²", "١٢", HUGE)):
        body = json.dumps(
            {"identifier": f"oai:lantai.local:{tail}", "name": "x", "contact": "x@y.z"}
        ).encode()
        stamp, nonce = str(int(time.time())), f"nonce-{n:012d}-abcdef"
        signed = signature("a shared key", stamp, nonce, "POST", "/partner/requests", body)
        headers = {"X-Lantai-Partner": "peer.example", "X-Lantai-Timestamp": stamp, "X-Lantai-Nonce": nonce,
                   "X-Lantai-Signature": signed, "Content-Type": "application/json"}  # fmt: skip
        assert client.post("/partner/requests", content=body, headers=headers).status_code == 404, tail
