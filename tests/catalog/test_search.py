"""Search on SQLite and PostgreSQL: Chinese-aware, script-insensitive, located, robust."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from catalog.models import Access, Item
from catalog.search import reindex_item, search
from configs.errors import BadInputError


def refs(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.reference_code for h in hits]


def every_hit(results):  # type: ignore[no-untyped-def]
    return [h for r in results for h in r.hits]


def test_two_character_word_finds_both_scripts_with_locations(session: Session) -> None:
    results = search(session, "水库")
    assert set(refs(results)) == {"J001-WS·2020·Y-001", "J001-LY·2020·Y-001"}
    hits = every_hit(results)
    page_hit = next(h for h in hits if h.field == "page")
    # the two words 水 and 庫
    assert page_hit.location == {"page": 1, "bbox": [50, 5, 90, 25], "boxes": [[50, 5, 90, 25]]}
    assert "<mark>水庫</mark>" in page_hit.snippet
    talk_hit = next(h for h in hits if h.field == "segment")
    assert talk_hit.location == {"start": 1.5, "end": 4.0}


def test_traditional_query_finds_simplified_text(session: Session) -> None:
    assert "J001-LY·2020·Y-001" in refs(search(session, "水庫"))


def test_phrase_and_single_character(session: Session) -> None:
    assert refs(search(session, "水库大坝")) == ["J001-WS·2020·Y-001"]
    assert refs(search(session, "库大坝修")) == []  # not a phrase anywhere
    assert set(refs(search(session, "坝"))) == {"J001-WS·2020·Y-001"}


def test_english_and_mixed_queries(session: Session) -> None:
    assert refs(search(session, "dam")) == ["J001-LY·2020·Y-001"]
    assert refs(search(session, "reservoir 2019")) == ["J001-WS·2020·Y-001"]
    assert refs(search(session, "interview 张三")) == ["J001-LY·2020·Y-001"]


def test_title_ranks_above_body(session: Session) -> None:
    session.add(
        Item(
            collection_id=1,
            reference_code="J001-WS·2020·Y-009",
            title="水库档案",
            kind="scan",
            access=Access.open,
        )
    )
    session.flush()
    reindex_item(session, session.get(Item, 4) or Item())
    hits = search(session, "水库")
    assert hits[0].reference_code == "J001-WS·2020·Y-009"


def test_restricted_items_hidden_unless_allowed(session: Session) -> None:
    assert "J001-WS·2020·Y-002" not in refs(search(session, "秘密"))
    assert refs(search(session, "秘密", include_restricted=True)) == ["J001-WS·2020·Y-002"]


def test_filters(session: Session) -> None:
    assert refs(search(session, "水库", kind="recording")) == ["J001-LY·2020·Y-001"]
    assert refs(search(session, "水库", collection="nope")) == []


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("水库 OR", True),  # an OR with nothing after it is left out
        ("NEAR(a b)", False),
        ("a* -b", False),
        ("'; DROP TABLE item; --", False),
        ("水库 AND", True),
        ("x:y", False),
        ('水库"', True),
        ("^水库", True),
        ("(水库", True),
        ("水库)*", True),
    ],
)
def test_query_syntax_is_inert(session: Session, query: str, found: bool) -> None:
    """FTS operators and SQL are plain words here: never an error; words must all match
    (OR, AND, NOT and a leading minus are Lantai's own operators)."""
    assert bool(search(session, query)) is found


@pytest.mark.parametrize(
    "query", ["", "   ", "!!!", '"', "\\", "x" * 300, "AND", "OR NOT", "-水库", " ".join("abcdefghijklm")]
)
def test_unusable_queries_give_a_clear_message(session: Session, query: str) -> None:
    with pytest.raises(BadInputError):
        search(session, query)


def test_filters_by_year_language_and_access(session: Session) -> None:
    from catalog.search import Filters

    assert set(refs(search(session, "水库", filters=Filters(year_from=1950, year_to=1960)))) == {
        "J001-WS·2020·Y-001"
    }
    assert set(refs(search(session, "水库", filters=Filters(year_from=2020)))) == {"J001-LY·2020·Y-001"}
    assert len(set(refs(search(session, "水库", filters=Filters(language="中文"))))) == 2
    only_closed = Filters(access="控制", include_restricted=True)
    assert set(refs(search(session, "水库", filters=only_closed))) == {"J001-WS·2020·Y-002"}


def test_facet_counts_respect_access(session: Session) -> None:
    from catalog.search import Filters, facets

    public = facets(session, "水库")
    assert public["kind"] == {"scan": 1, "recording": 1}
    assert public["access"] == {"开放": 2}  # the controlled item is not even counted
    assert public["year"] == {"1958": 1, "2020": 1}
    staff = facets(session, "水库", filters=Filters(include_restricted=True))
    assert staff["access"] == {"开放": 2, "控制": 1} and staff["collection"] == {"C1": 3}
    assert not staff.capped  # every match was counted: exact


def test_facet_counts_are_capped_lower_bounds(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Facets count the items the ranking considers; past the cap the counts are marked as
    lower bounds (shown "n+"), never more than the truth."""
    from catalog import search as search_module
    from catalog.search import Filters, facets

    exact = facets(session, "水库", filters=Filters(include_restricted=True))
    monkeypatch.setattr(search_module, "CANDIDATES", 1)
    capped = facets(session, "水库", filters=Filters(include_restricted=True))
    assert capped.capped and not exact.capped
    assert 1 <= sum(capped["kind"].values()) < sum(exact["kind"].values())
    for name, values in capped.items():
        assert all(n <= exact[name][value] for value, n in values.items()), name


def test_reindex_all_rebuilds_every_entry(session: Session) -> None:
    from sqlmodel import delete, select

    from catalog.models import SearchEntry
    from catalog.search import reindex_all

    before = len(session.exec(select(SearchEntry)).all())
    session.exec(delete(SearchEntry))
    assert search(session, "水库") == []
    assert reindex_all(session) == before
    assert len(set(refs(search(session, "水库")))) == 2


def test_variant_characters_find_each_other(session: Session, db_url: str) -> None:
    """帳戶 (traditional, whose t2s form is 帐户) finds 账户 and the other way round; 著/着
    likewise. A catalog indexed before variant folding is rebuilt where it matters, once."""
    from sqlalchemy import text

    from catalog.db import get_engine, refresh_index
    from catalog.models import Collection, IndexState
    from catalog.search.terms import INDEX_VERSION

    coll = session.exec(select(Collection)).first()
    assert coll is not None
    for code, title in (("J001-WS·2020·Y-101", "个人帐户管理办法"), ("J001-WS·2020·Y-102", "显着成绩报告")):
        item = Item(
            collection_id=coll.id or 0, reference_code=code, title=title, kind="scan", access=Access.open
        )
        session.add(item)
        session.flush()
        reindex_item(session, item)
    session.commit()
    assert [h.title for h in search(session, "帳戶管理")] == ["个人帐户管理办法"]
    assert [h.title for h in search(session, "账户")] == ["个人帐户管理办法"]
    assert [h.title for h in search(session, "显著")] == ["显着成绩报告"]
    engine = get_engine(db_url)
    with engine.begin() as conn:  # as indexed before variant folding: 帐 kept as written
        conn.execute(text("UPDATE index_state SET version = 1 WHERE name = 'normalization'"))
        conn.execute(text("UPDATE search_entry SET tokens = replace(tokens, '账', '帐'), "
                          "bigrams = replace(bigrams, '账', '帐')"))  # fmt: skip
    session.expire_all()
    assert search(session, "账户") == []
    # the item with a character folded differently now, and those with pages or transcripts
    # (index version 5 made them running text)
    assert refresh_index(engine) == 4  # the 帐 item and the three with pages or segments
    assert refresh_index(engine) == 0  # current now
    session.expire_all()
    assert session.get(IndexState, "normalization").version == INDEX_VERSION  # type: ignore[union-attr]
    assert [h.title for h in search(session, "帐户")] == ["个人帐户管理办法"]
