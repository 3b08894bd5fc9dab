"""Search at the level people think in (issue 31): a page is one running text and a
recording's part too, so a phrase is found across a line end, a page break and a segment
end; words combine over the whole item (AND, OR, NOT, quoted phrases); one result per item
with its hit count and best hits, in a stable, paginated order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from catalog.models import Access, Asset, Collection, Item, Page, Segment, Transcript
from catalog.search import Filters, page_part, reindex_item, search, search_items, segments_part
from catalog.search.running import OVERLAP, Unit, joins_word, windows

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


def _line(text: str, y: int, *, chars: bool = True) -> dict:  # type: ignore[type-arg]
    """An OCR line at height ``y`` whose words are its characters (CJK) or its words."""
    words = list(text) if chars else text.split()
    boxes, x = [], 10
    for w in words:
        boxes.append({"text": w, "bbox": [x, y, x + 20 * len(w), y + 30], "conf": 90})
        x += 20 * len(w) + (0 if chars else 10)
    return {"text": text, "bbox": [10, y, max(x, 11), y + 30], "conf": 90, "words": boxes}


def _scan(
    session: Session, code: str, pages: list[list[str]], *, title: str = "文书", chars: bool = True
) -> Item:
    coll = session.exec(select(Collection)).first()
    assert coll is not None
    item = Item(collection_id=coll.id or 0, reference_code=code, title=title, kind="scan", access=Access.open)
    session.add(item)
    session.flush()
    asset = Asset(item_id=item.id or 0, role="master", key=f"masters/{code}", sha256=code)
    session.add(asset)
    session.flush()
    for n, lines in enumerate(pages, 1):
        rows = [_line(t, 50 * k, chars=chars) for k, t in enumerate(lines)]
        session.add(
            Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=n, text="\n".join(lines), lines=rows)
        )
    session.flush()
    reindex_item(session, item)
    session.commit()
    return item


def _talk(session: Session, code: str, segments: list[tuple[float, float, str, list]]) -> Item:  # type: ignore[type-arg]
    coll = session.exec(select(Collection)).first()
    assert coll is not None
    item = Item(
        collection_id=coll.id or 0, reference_code=code, title="访谈", kind="recording", access=Access.open
    )
    session.add(item)
    session.flush()
    asset = Asset(item_id=item.id or 0, role="master", key=f"masters/{code}", sha256=code)
    session.add(asset)
    session.flush()
    t = Transcript(item_id=item.id or 0, asset_id=asset.id or 0)
    session.add(t)
    session.flush()
    for seq, (start, end, body, words) in enumerate(segments):
        session.add(Segment(transcript_id=t.id or 0, seq=seq, start=start, end=end, text=body, words=words))
    session.flush()
    reindex_item(session, item)
    session.commit()
    return item


def _codes(session: Session, q: str) -> list[str]:
    """The items of these tests (not the fixture's) that ``q`` finds, best first."""
    return [
        r.reference_code for r in search(session, q, include_restricted=True) if "2023" in r.reference_code
    ]


def test_a_phrase_across_a_line_end_lights_both_lines(session: Session) -> None:
    _scan(session, "J001-WS·2023·Y-001", [["本章记述了水土", "流失与治理情况"]])
    (result,) = search(session, "水土流失")
    (hit,) = result.hits
    assert hit.location["page"] == 1
    # one box per line: the words 水土 on the first line, 流失 on the second
    assert hit.location["boxes"] == [[110, 0, 150, 30], [10, 50, 50, 80]]
    assert hit.location["bbox"] == [110, 0, 150, 30]  # the deep link goes to the first
    assert "<mark>水土\n流失</mark>" in hit.snippet


def test_a_phrase_across_a_page_break(session: Session) -> None:
    _scan(session, "J001-WS·2023·Y-002", [["第一页的内容讲到水土"], ["流失的原因有三"]])
    (result,) = search(session, "水土流失的原因")
    (hit,) = result.hits
    assert hit.location["page"] == 1 and hit.location["boxes"] == [[170, 0, 210, 30]]
    assert hit.location["continues"] == [{"page": 2, "bbox": [10, 0, 110, 30]}]  # 流失的原因
    # a phrase wholly on page 2, inside page 1's overlap, is page 2's hit only: counted once
    (result,) = search(session, "原因有三")
    assert result.hit_count == 1 and result.hits[0].location["page"] == 2


def test_a_phrase_across_segments_plays_from_its_first_word(session: Session) -> None:
    words = [
        {"word": "那年", "start": 10.0, "end": 10.6},
        {"word": "我们", "start": 10.6, "end": 11.0},
        {"word": "修", "start": 11.0, "end": 11.3},
        {"word": "水库", "start": 11.3, "end": 12.0},
    ]
    _talk(
        session,
        "J001-LY·2023·Y-001",
        [(10.0, 12.0, "那年我们修水库", words), (12.0, 15.5, "大坝用了三年", [])],
    )
    (result,) = search(session, "修水库大坝")
    (hit,) = result.hits
    assert hit.field == "segment" and hit.location == {"start": 11.0, "end": 15.5}
    assert (
        hit.segment_id
        == session.exec(select(Segment.id).where(Segment.seq == 0, Segment.text == "那年我们修水库")).one()
    )
    assert _codes(session, "水库大坝用") == ["J001-LY·2023·Y-001"]


def test_latin_hyphenation_at_a_line_end_joins_the_word(session: Session) -> None:
    _scan(
        session, "J001-WS·2023·Y-003", [["the infor-", "mation office", "North-", "East region"]], chars=False
    )
    assert _codes(session, "information") == ["J001-WS·2023·Y-003"]
    assert _codes(session, '"information office"') == ["J001-WS·2023·Y-003"]
    # an upper-case continuation is a compound's own hyphen: North-East stays two words
    assert _codes(session, '"north east"') == ["J001-WS·2023·Y-003"]
    assert _codes(session, "northeast") == []


def test_words_combine_over_the_whole_item(session: Session) -> None:
    _scan(session, "J001-WS·2023·Y-004", [["关于水库的报告"], ["移民安置方案"]], title="报告")
    _scan(session, "J001-WS·2023·Y-005", [["水库建设"]], title="其他")
    assert _codes(session, "水库 移民") == ["J001-WS·2023·Y-004"]  # two words on two pages
    assert _codes(session, "报告 安置") == ["J001-WS·2023·Y-004"]  # title and body
    assert set(_codes(session, "移民 OR 建设")) == {"J001-WS·2023·Y-004", "J001-WS·2023·Y-005"}
    assert _codes(session, "水库 -移民") == ["J001-WS·2023·Y-005"]
    assert _codes(session, "水库 NOT 移民") == ["J001-WS·2023·Y-005"]
    assert _codes(session, "水库 NOT 并无此词") != []
    assert _codes(session, "“水库的报告”") == ["J001-WS·2023·Y-004"]
    assert _codes(session, '"报告 水库"') == []  # a quoted phrase keeps its order


def test_one_result_per_item_with_its_hit_count(session: Session) -> None:
    _scan(session, "J001-WS·2023·Y-006", [["账户一"], ["账户二"], ["没有"], ["账户三"]], title="账户清单")
    (result,) = search(session, "账户")
    assert result.hit_count == 4  # three pages and the description
    assert len(result.hits) == 3  # the best few
    assert result.hits[0].field in ("title", "meta")  # the description weighs most
    assert result.as_json()["hits"][0].keys() >= {"snippet", "location", "field", "score"}


def test_results_are_paginated_in_a_stable_order(session: Session) -> None:
    for n in range(7):
        _scan(session, f"J001-WS·2023·Y-1{n:02d}", [["档案馆藏" * (1 + n % 3)]])
    filters = Filters(include_restricted=True)
    first = search_items(session, "档案馆藏", filters=filters, limit=4)
    second = search_items(session, "档案馆藏", filters=filters, limit=4, offset=4)
    assert first.total == second.total == 7
    codes = [r.reference_code for r in first.items + second.items]
    assert len(codes) == len(set(codes)) == 7
    again = search_items(session, "档案馆藏", filters=filters, limit=7).items
    assert [r.reference_code for r in again] == codes
    assert first.facets["kind"] == {"scan": 7}  # facets count items


def test_an_edit_reaches_the_entry_before_it(session: Session) -> None:
    """Editing the start of page 2 changes page 1's overlap too: both are rebuilt."""
    item = _scan(session, "J001-WS·2023·Y-007", [["讲到水土"], ["流失问题"]])
    assert _codes(session, "水土流失") == ["J001-WS·2023·Y-007"]
    page = session.exec(select(Page).where(Page.item_id == item.id, Page.page_no == 2)).one()
    page.lines = [_line("保持问题", 0)]
    session.add(page)
    session.flush()
    reindex_item(session, item, page_part(2))
    session.commit()
    assert _codes(session, "水土流失") == []
    assert _codes(session, "水土保持") == ["J001-WS·2023·Y-007"]


def test_a_segment_edit_reaches_the_segments_before_it(session: Session) -> None:
    item = _talk(
        session, "J001-LY·2023·Y-002", [(0.0, 1.0, "我们修", []), (1.0, 2.0, "水", []), (2.0, 3.0, "库", [])]
    )
    assert _codes(session, "修水库") == ["J001-LY·2023·Y-002"]
    last = session.exec(select(Segment).where(Segment.text == "库")).one()
    last.text = "渠"
    session.add(last)
    session.flush()
    reindex_item(session, item, segments_part([last.id or 0]))
    session.commit()
    assert _codes(session, "修水库") == []
    assert _codes(session, "修水渠") == ["J001-LY·2023·Y-002"]


# ---------------------------------------------------------------- the running text itself


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text(HAN, min_size=1, max_size=30), min_size=1, max_size=6), min_size=1, max_size=5)
)
def test_every_character_maps_back_to_its_line(pages: list[list[str]]) -> None:
    """Whatever the lines, each entry's own text is its page's lines in order, and every
    piece points at the line whose text it holds."""
    units = [Unit(p, [([p, n], body) for n, body in enumerate(lines)]) for p, lines in enumerate(pages, 1)]
    found, keys = windows(units)
    assert keys == set(range(1, len(pages) + 1))
    for win in found:
        own = win.text[: win.own]
        assert own.replace("\n", "") == "".join(pages[win.key - 1])  # no CJK line ends in a hyphen
        for start, end, page, line in win.pieces:
            assert pages[page - 1][line].startswith(win.text[start:end])
        assert len(win.text[win.own :].replace("\n", "")) <= OVERLAP


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(HAN, min_size=1, max_size=12), min_size=2, max_size=12), st.data())
def test_a_phrase_across_any_boundary_is_found_in_one_entry(lines: list[str], data) -> None:  # type: ignore[no-untyped-def]
    """Any phrase of the running text that starts in an entry's own text and has at most
    OVERLAP characters after that entry's end lies whole in that entry."""
    units = [Unit(n, [([n, 0], body)]) for n, body in enumerate(lines)]
    found, _ = windows(units)
    running = "".join(lines)
    start = data.draw(st.integers(0, len(running) - 1))
    length = data.draw(st.integers(1, min(OVERLAP, len(running) - start)))
    phrase = running[start : start + length]
    assert any(phrase in win.text.replace("\n", "") for win in found)


def test_hyphen_rule() -> None:
    assert joins_word("infor-", "mation") and joins_word("Straße-", "nbahn")
    assert not joins_word("North-", "East") and not joins_word("1990-", "2000") and not joins_word("a -", "b")
