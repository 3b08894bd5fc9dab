"""The union catalogue reads a query as the catalog search does (issue 31): every word,
OR for either, -word to exclude, "…" for a phrase."""

from __future__ import annotations

from sqlmodel import Session

from catalog.models import HarvestSource, UnionRecord
from catalog.publish import union
from catalog.publish.union import _folded


def test_union_queries_combine_like_the_catalog(session: Session) -> None:
    source = HarvestSource(name="a", url="https://a.example/oai", key="k" * 20, status="ok")
    session.add(source)
    session.flush()
    for n, (title, subject) in enumerate(
        (("水库移民档案", "移民"), ("水库建设", "工程"), ("堤坝维修", "工程"))
    ):
        fields = {"title": title, "subject": subject}
        session.add(
            UnionRecord(
                source_id=source.id or 0,
                identifier=f"oai:a:{n}",
                title=title,
                subject=subject,
                folded=_folded(fields),
            )
        )
    session.commit()

    def titles(q: str) -> set[str]:
        return {h.title for h in union.search(session, q)}

    assert titles("水库 工程") == {"水库建设"}
    assert titles("水库 OR 堤坝") == {"水库移民档案", "水库建设", "堤坝维修"}
    assert titles("水庫 -移民") == {"水库建设"}  # traditional query, simplified records
    assert titles('"移民档案"') == {"水库移民档案"}
    assert titles("-水库") == set()  # nothing but an exclusion: no query
