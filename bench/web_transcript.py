"""The recording view with a 3-hour interview (2,000 segments with word timings): page
payload, server time, time to first render and to a usable page in headless Chromium, and
the latency of saving a segment edit. Baselines in the same run: /healthz (the cheapest
request the app answers) for server times, and an empty page for the browser.

    .venv/bin/python bench/web_transcript.py [--segments 2000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx


def seed(segments: int) -> tuple[int, list[int]]:
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Asset, Collection, Item, Segment, Transcript
    from catalog.search import reindex_item
    from configs import get_settings
    from web.security import add_user

    text = "我们村在一九五八年修了水库全村三百多人都去了那时候没有机器全靠人挑肩扛"
    with Session(get_engine(get_settings().db_url)) as s:
        add_user(s, name="bench", role="editor", password="bench-password")
        coll = Collection(code="B", name="bench")
        s.add(coll)
        s.flush()
        item = Item(
            collection_id=coll.id, reference_code="J001-LY·2024·Y-999", title="三小时访谈", kind="recording"
        )
        s.add(item)
        s.flush()
        master = Asset(item_id=item.id, role="master", key="masters/x/x.wav", sha256="x" * 64)
        s.add(master)
        s.flush()
        tr = Transcript(item_id=item.id, asset_id=master.id, duration=3 * 3600.0, language="zh")
        s.add(tr)
        s.flush()
        step = 3 * 3600.0 / segments
        rows = []
        for i in range(segments):
            body = text[i % 7 :] + text[: i % 7]
            words = [
                {
                    "start": round(i * step + k * 0.2, 2),
                    "end": round(i * step + k * 0.2 + 0.2, 2),
                    "word": ch,
                    "probability": 0.9,
                }
                for k, ch in enumerate(body)
            ]
            rows.append(
                Segment(
                    transcript_id=tr.id,
                    seq=i,
                    start=i * step,
                    end=i * step + step * 0.9,
                    text=body,
                    raw_text=body,
                    confidence=0.8,
                    words=words,
                )
            )
        s.add_all(rows)
        s.flush()
        reindex_item(s, item)
        s.commit()
        return item.id or 0, [r.id or 0 for r in rows]


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=2000)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lantai-bench-web-"))
    os.environ["LANTAI_HOME"] = str(home)
    import uvicorn

    from web.app import create_app

    item_id, seg_ids = seed(args.segments)
    port = 18765
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    c = httpx.Client(base_url=base)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]  # type: ignore[index]
    c.post("/login", data={"username": "bench", "password": "bench-password", "csrf_token": tok})
    csrf = re.search(r'data-csrf="([^"]+)"', c.get("/review").text)[1]  # type: ignore[index]
    url = f"/items/{item_id}/recording"
    page = c.get(url)
    raw = httpx.get(base + url, cookies=c.cookies, headers={"Accept-Encoding": "gzip"})
    sent = int(raw.headers.get("content-length") or len(raw.content))
    health = timed(lambda: c.get("/healthz"), 50)
    view = timed(lambda: c.get(url), 10)
    versions = dict.fromkeys(seg_ids, 0)

    def save(i: int = 0) -> None:
        sid = seg_ids[len(versions) // 2]
        r = c.put(
            f"/api/segments/{sid}",
            json={"version": versions[sid], "text": f"修改{time.time()}"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200, (versions[sid], r.text)
        versions[sid] = r.json()["version"]

    saves = timed(save, 50)
    print(
        f"segments: {args.segments}; recording page: {len(page.content) / 1e6:.2f} MB HTML "
        f"({len(page.content) / args.segments:.0f} bytes per segment), {sent / 1e6:.2f} MB sent gzipped"
    )
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    print(f"server  /healthz baseline  p50 {statistics.median(health):7.1f} ms")
    ratio = statistics.median(view) / statistics.median(health)
    print(f"server  recording page     p50 {statistics.median(view):7.1f} ms  ×{ratio:.0f} baseline")
    print(
        f"server  save segment (PUT) p50 {statistics.median(saves):7.1f} ms  p95 {q(saves, 95):6.1f} ms  "
        f"×{statistics.median(saves) / statistics.median(health):.1f} baseline"
    )

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium")
        ctx = b.new_context(base_url=base)
        ctx.add_cookies([{"name": k, "value": v, "url": base} for k, v in c.cookies.items()])
        pg = ctx.new_page()
        empty, full = [], []
        for _ in range(3):
            t = time.perf_counter()
            pg.goto("/healthz")
            empty.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            pg.goto(url, wait_until="domcontentloaded")
            pg.wait_for_selector(f"#seg-{seg_ids[-1]}", state="attached")
            full.append((time.perf_counter() - t) * 1000)
        fcp = pg.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime || 0")
        t = time.perf_counter()
        for _ in range(40):
            pg.mouse.wheel(0, 4000)
        pg.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        scroll = (time.perf_counter() - t) * 1000
        b.close()
    print(f"browser empty page baseline  {statistics.median(empty):7.1f} ms")
    usable = statistics.median(full)
    print(f"browser recording page usable {usable:7.1f} ms ×{usable / statistics.median(empty):.0f} baseline")
    print(f"browser first contentful paint {fcp:.0f} ms")
    print(f"browser 40 wheel scrolls of 4000 px: {scroll:.0f} ms")
    server.should_exit = True


if __name__ == "__main__":
    main()
