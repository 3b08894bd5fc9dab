"""The OAI-PMH provider's selective harvesting on SQLite and on PostgreSQL (timestamps with a
time zone): from/until bound the last change to the second, deleted records keep theirs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Collection, Item, ItemStatus
from catalog.publish import oai
from catalog.review.openreview import decide_access


def _repo() -> oai.Repository:
    return oai.Repository(
        name="test", base_url="http://archive.test/oai", identifier="archive.test", admin_email="a@b.c",
        secret=b"k" * 32, item_url=lambda i: f"http://archive.test/public/items/{i}",
    )  # fmt: skip


def _ids(xml: bytes) -> list[tuple[str | None, str]]:
    headers = ET.fromstring(xml).iter(f"{{{oai.NS}}}header")
    return [(h.get("status"), h.findtext(f"{{{oai.NS}}}identifier", "")) for h in headers]


def test_from_until_and_deleted_records(db_url: str) -> None:
    engine = get_engine(db_url)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    with Session(engine) as s:
        coll = Collection(code="T", name="测试")
        s.add(coll)
        s.flush()
        old, new, gone = (
            Item(
                collection_id=coll.id or 0,
                reference_code=f"J001-WS·2020·Y-00{n}",
                title=f"记录 {n}",
                kind="scan",
                status=ItemStatus.enriched,
                access=Access.open,
            )
            for n in (1, 2, 3)
        )
        old.updated_at = datetime(2020, 1, 1, 12, 0, 0, tzinfo=UTC)
        s.add_all([old, new, gone])
        s.flush()
        new.updated_at = datetime(2024, 6, 1, 8, 30, 15, tzinfo=UTC)
        s.add(new)
        s.commit()
        decide_access(
            s, item_id=gone.id or 0, access=Access.controlled, reason="收回", reviewer="ed", rounds=1
        )
        s.commit()
        ids = {"old": old.id, "new": new.id, "gone": gone.id}
    repo = _repo()

    def listed(**args: str) -> list[tuple[str | None, str]]:
        params = [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *args.items()]
        with Session(engine) as s:
            return _ids(oai.respond(s, repo, params))

    prefix = "oai:archive.test:"
    assert listed(until="2020-01-01") == [(None, f"{prefix}{ids['old']}")]
    assert listed(**{"from": "2024-06-01T08:30:15Z", "until": "2024-06-01T08:30:15Z"}) == [
        (None, f"{prefix}{ids['new']}")
    ]
    assert listed(**{"from": "2024-06-01T08:30:16Z", "until": "2024-06-01T09:00:00Z"}) == []
    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime(stamp)
    assert listed(**{"from": since}) == [("deleted", f"{prefix}{ids['gone']}")]  # closed just now
    engine.dispose()
