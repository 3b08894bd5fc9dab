"""Editing through the web API and forms: revisions, conflicts, locking, history, escaping."""

from __future__ import annotations

from sqlmodel import Session, col, select

from catalog.db import get_engine
from catalog.models import Item, Revision, Segment
from catalog.search import search
from configs import get_settings
from tests.web.conftest import XSS, Browser, Seeded


def _db() -> Session:
    return Session(get_engine(get_settings().db_url))


def test_machine_text_is_escaped_everywhere(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    for url in (
        f"/items/{seeded.recording}/recording",
        f"/items/{seeded.scan}/pages/1",
        "/search?q=危险文本",
        "/search?q=备注",
    ):
        html = ed.get(url).text
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_segment_edit_revision_and_conflict(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed, eve = clients["ed"], clients["eve"]
    seg = seeded.segments[0]
    r = ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": "希望你以后能够做得比我还好哟"})
    assert r.status_code == 200 and r.json()["version"] == 1
    # Eve started from version 0 too: she gets a conflict with both texts, nothing is overwritten
    r = eve.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": "伊芙的版本"})
    assert r.status_code == 409
    assert r.json()["current"]["text"] == "希望你以后能够做得比我还好哟"
    assert r.json()["yours"]["text"] == "伊芙的版本"
    with _db() as s:
        assert s.get(Segment, seg).text == "希望你以后能够做得比我还好哟"  # type: ignore[union-attr]
        revs = s.exec(
            select(Revision)
            .where(Revision.target_id == seg, Revision.target == "segment")
            .order_by(col(Revision.number))
        ).all()
        assert [(r.number, r.author) for r in revs] == [(0, "machine"), (1, "ed")]
        assert revs[0].after["text"] == "希望你以后能够做的比我还好呦"
        assert s.get(Item, seeded.recording).status == "in_review"  # type: ignore[union-attr]
        # the correction is searchable at once
        assert search(s, "做得", include_restricted=True)
    # saving on top of the current version works
    assert eve.api("PUT", f"/api/segments/{seg}", {"version": 1, "text": "伊芙的版本"}).status_code == 200


def test_times_and_bad_edits(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    seg = seeded.segments[1]
    assert ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "start": 5, "end": 4}).status_code == 422
    assert ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "start": 1, "end": 99}).status_code == 422
    r = ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "start": 1.2, "end": 2.5, "speaker": "口述者"})
    assert r.status_code == 200 and r.json()["start"] == 1.2 and r.json()["speaker"] == "口述者"
    assert ed.api("PUT", "/api/segments/999999", {"version": 0, "text": "x"}).status_code == 404


def test_split_merge_and_speakers(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    first = seeded.segments[0]
    r = ed.api("POST", f"/api/segments/{first}/split", {"version": 0, "at": 5})
    assert r.status_code == 200, r.text
    a, b = r.json()["first"], r.json()["second"]
    assert a["text"] == "希望你以后" and b["text"] == "能够做的比我还好呦"
    assert a["end"] == b["start"] == 0.355  # the start of the sixth word
    segs = ed.api("GET", f"/api/items/{seeded.recording}/segments").json()
    assert [s["seq"] for s in segs] == [0, 1, 2, 3] and segs[1]["id"] == b["id"]
    r = ed.api(
        "POST", f"/api/segments/{first}/merge", {"version": a["version"], "next_version": b["version"]}
    )
    assert r.status_code == 200 and r.json()["text"] == "希望你以后能够做的比我还好呦"
    assert len(ed.api("GET", f"/api/items/{seeded.recording}/segments").json()) == 3
    r = ed.api("POST", f"/api/transcripts/{seeded.transcript}/speakers", {"old": "", "new": "王大妈"})
    assert r.json() == {"changed": 3}
    assert {s["speaker"] for s in ed.api("GET", f"/api/items/{seeded.recording}/segments").json()} == {
        "王大妈"
    }


def test_page_lines_other_lines_merge_same_line_conflicts(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    ed, eve = clients["ed"], clients["eve"]
    url = f"/api/pages/{seeded.page}/lines"
    r = ed.api("PUT", f"{url}/0", {"version": 0, "base": "网络支付方式说明", "text": "网络支付方式的说明"})
    assert r.status_code == 200 and r.json()["version"] == 1
    # Eve still has version 0 but edits another line: fine
    r = eve.api("PUT", f"{url}/2", {"version": 0, "base": "账户余额", "text": "账户余额表"})
    assert r.status_code == 200
    # ... and the same line: conflict
    r = eve.api("PUT", f"{url}/0", {"version": 0, "base": "网络支付方式说明", "text": "伊芙"})
    assert r.status_code == 409 and r.json()["current"]["text"] == "网络支付方式的说明"
    hist = ed.get(f"/items/{seeded.scan}/history").text
    assert "<ins>的</ins>" in hist and "账户余额<ins>表</ins>" in hist.replace("<span>", "").replace(
        "</span>", ""
    )


def test_description_validation_and_conflict(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    form = {"csrf_token": ed.csrf, "version": "0", "title": "口述寄语", "date": "2024年5月", "retention": "Y"}
    r = ed.post(f"/items/{seeded.recording}/describe", data=form, follow_redirects=False)
    assert r.status_code == 303
    with _db() as s:
        assert s.get(Item, seeded.recording).date == "202405"  # type: ignore[union-attr]
    bad = ed.post(f"/items/{seeded.recording}/describe", data=form | {"version": "1", "date": "2024-13-01"})
    assert bad.status_code == 422 and "日期" in bad.text
    bad = ed.post(
        f"/items/{seeded.recording}/describe", data=form | {"version": "1", "reference_code": "坏号"}
    )
    assert bad.status_code == 422
    stale = ed.post(f"/items/{seeded.recording}/describe", data=form | {"title": "旧版本上的修改"})
    assert stale.status_code == 409 and "旧版本上的修改" in stale.text


def test_approve_locks_and_admin_reopens(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed, boss = clients["ed"], clients["boss"]
    r = ed.post(
        f"/items/{seeded.recording}/status",
        data={"action": "approve", "csrf_token": ed.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (
        ed.api("PUT", f"/api/segments/{seeded.segments[0]}", {"version": 0, "text": "x"}).status_code == 423
    )
    assert (
        ed.post(
            f"/items/{seeded.recording}/status", data={"action": "reopen", "csrf_token": ed.csrf}
        ).status_code
        == 423
    )
    assert "重新打开" in boss.get(f"/items/{seeded.recording}").text
    boss.post(f"/items/{seeded.recording}/status", data={"action": "reopen", "csrf_token": boss.csrf})
    assert (
        ed.api("PUT", f"/api/segments/{seeded.segments[0]}", {"version": 0, "text": "x"}).status_code == 200
    )


def test_history_restore_brings_back_machine_text(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    seg = seeded.segments[2]
    ed.api("PUT", f"/api/segments/{seg}", {"version": 0, "text": "第一次改"})
    ed.api("PUT", f"/api/segments/{seg}", {"version": 1, "text": "第二次改"})
    with _db() as s:
        machine = s.exec(
            select(Revision).where(
                Revision.target_id == seg, Revision.number == 0, Revision.target == "segment"
            )
        ).one()
    r = ed.post(f"/revisions/{machine.id}/restore", data={"csrf_token": ed.csrf}, follow_redirects=False)
    assert r.status_code == 303
    with _db() as s:
        assert s.get(Segment, seg).text == "第三段 谢谢大家"  # type: ignore[union-attr]
        numbers = s.exec(
            select(Revision.number)
            .where(Revision.target_id == seg, Revision.target == "segment")
            .order_by(col(Revision.number))
        ).all()
    assert list(numbers) == [0, 1, 2, 3]  # restoring adds a revision; history only grows


def test_queue_orders_by_need(clients: dict[str, Browser], seeded: Seeded) -> None:
    html = clients["ed"].get("/review").text
    # the scan (70 % OCR confidence) comes before the recording (80 %)
    assert html.index("J001-WS·2015·Y-001") < html.index("J001-LY·2024·Y-001")
    assert "J001-WS·2015·Y-002" in html
    assert "J001-WS·2015·Y-002" not in clients["col"].get("/review").text


def test_exports_from_the_item_page(clients: dict[str, Browser], seeded: Seeded) -> None:
    r = clients["ed"].get(f"/items/{seeded.recording}/export/vtt")
    assert r.status_code == 200 and r.text.startswith("WEBVTT")
    assert "attachment" in r.headers["content-disposition"]
    assert clients["ed"].get(f"/items/{seeded.recording}/export/exe").status_code == 422


def test_collection_exports_from_the_queue(clients: dict[str, Browser], seeded: Seeded) -> None:
    import io

    from openpyxl import load_workbook

    ed = clients["ed"]
    assert "/collections/ORAL/export/xlsx" in ed.get("/review?collection=ORAL").text
    r = ed.get("/collections/ORAL/export/xlsx")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][1] == "档号" and len(rows) == 4
    assert ed.get("/collections/ORAL/export/csv").content.startswith("\ufeff序号".encode())
    assert clients["col"].get("/collections/ORAL/export/csv", follow_redirects=False).status_code == 403


def test_item_json_api(clients: dict[str, Browser], seeded: Seeded) -> None:
    ed = clients["ed"]
    item = ed.api("GET", f"/api/items/{seeded.recording}").json()
    assert (
        item["reference_code"] == "J001-LY·2024·Y-001" and item["version"] == 0 and "claimed_by" not in item
    )
    r = ed.api(
        "PATCH", f"/api/items/{seeded.recording}", {"version": 0, "narrator": "王秀英", "date": "1998年3月"}
    )
    assert r.status_code == 200 and r.json()["narrator"] == "王秀英" and r.json()["date"] == "199803"
    stale = ed.api("PATCH", f"/api/items/{seeded.recording}", {"version": 0, "narrator": "别人"})
    assert stale.status_code == 409 and stale.json()["current"]["narrator"] == "王秀英"
    assert (
        ed.api("PATCH", f"/api/items/{seeded.recording}", {"version": 1, "retention": "forever"}).status_code
        == 422
    )
    assert clients["col"].api("GET", f"/api/items/{seeded.closed}").status_code == 403
    assert (
        clients["col"].api("PATCH", f"/api/items/{seeded.scan}", {"version": 0, "title": "x"}).status_code
        == 403
    )
