"""The editors' review queue and the open-review queue are counted and sorted in SQL; on
random catalogs their order is the one the rules state (checked by a plain reference
implementation in Python), on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session

from catalog import crud
from catalog.db import get_engine
from catalog.models import (
    Access,
    AccessDecision,
    Asset,
    Collection,
    Flag,
    FlagStatus,
    Item,
    ItemStatus,
    Page,
    Segment,
    Transcript,
)
from catalog.review.openreview import screening_queue

STATUSES = [ItemStatus.enriched, ItemStatus.in_review, ItemStatus.approved, ItemStatus.pending]
FLAG_STATES = [FlagStatus.open, FlagStatus.removed, FlagStatus.confirmed, FlagStatus.dismissed]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queues_sort_as_the_rules_say(db_url: str, seed: int) -> None:
    rnd = random.Random(seed)
    facts: dict[int, dict] = {}  # type: ignore[type-arg]
    with Session(get_engine(db_url)) as s:
        coll = Collection(code=f"Q{seed}", name="queue")
        s.add(coll)
        s.flush()
        for n in range(40):
            item = Item(collection_id=coll.id or 0, reference_code=f"J001-WS·2020·Y-{n:03d}", title=f"件{n}",
                        kind=rnd.choice(["scan", "recording"]), status=rnd.choice(STATUSES),
                        access=rnd.choice([Access.unreviewed, Access.open, Access.controlled]))  # fmt: skip
            s.add(item)
            s.flush()
            asset = Asset(item_id=item.id or 0, role="master", key=f"masters/{seed}/{n}", sha256=f"{seed}{n}")
            s.add(asset)
            s.flush()
            flags = [(rnd.choice(["pii", "term", "hallucination"]), rnd.choice(FLAG_STATES))
                     for _ in range(rnd.choice([0, 0, 1, 2, 3]))]  # fmt: skip
            for kind, state in flags:
                s.add(Flag(item_id=item.id or 0, kind=kind, status=state))
            page_conf = [rnd.choice([None, rnd.uniform(30, 99)]) for _ in range(rnd.randint(0, 2))]
            for no, conf in enumerate(page_conf, 1):
                s.add(Page(item_id=item.id or 0, asset_id=asset.id or 0, page_no=no, mean_conf=conf))
            seg_conf: list[float | None] = []
            if item.kind == "recording" and rnd.random() < 0.7:
                t = Transcript(item_id=item.id or 0, asset_id=asset.id or 0)
                s.add(t)
                s.flush()
                seg_conf = [rnd.choice([None, rnd.uniform(0.2, 1.0)]) for _ in range(rnd.randint(1, 3))]
                for seq, conf in enumerate(seg_conf):
                    s.add(Segment(transcript_id=t.id or 0, seq=seq, start=seq, end=seq + 1, text="话",
                                  confidence=conf))  # fmt: skip
            decisions = [(rnd.choice([1, 2]), rnd.random() < 0.5) for _ in range(rnd.choice([0, 0, 1, 2]))]
            for round_, effective in decisions:
                s.add(AccessDecision(item_id=item.id or 0, reviewer="r", access="开放", reason="x",
                                     round=round_, effective=effective))  # fmt: skip
                s.flush()
            facts[item.id or 0] = {"item": item, "flags": flags, "pages": page_conf, "segments": seg_conf,
                                   "last": decisions[-1] if decisions else None}  # fmt: skip
        s.commit()

        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known else None

        def neediest(f: dict) -> tuple:  # type: ignore[type-arg]
            seg = mean(f["segments"])
            page = mean(f["pages"])
            conf = seg if seg is not None else (page / 100 if page is not None else None)
            undecided = sum(1 for _, state in f["flags"] if state in (FlagStatus.open, FlagStatus.removed))
            return (-undecided, conf if conf is not None else 2.0, f["item"].id)

        editable = [
            f for f in facts.values() if f["item"].status in (ItemStatus.enriched, ItemStatus.in_review)
        ]
        expected = [f["item"].id for f in sorted(editable, key=neediest)][:25]
        got = crud.review_queue(s, collection=f"Q{seed}", limit=25)
        assert [r["item"].id for r in got] == expected

        def waiting(f: dict) -> tuple[int, int] | None:  # type: ignore[type-arg]
            if f["item"].status in (ItemStatus.pending,):
                return None
            screening = [state for kind, state in f["flags"] if kind in ("pii", "term")]
            undecided = sum(1 for state in screening if state in (FlagStatus.open, FlagStatus.removed))
            last = f["last"]
            if undecided or f["item"].access == Access.unreviewed or (last and last == (1, False)):
                return undecided, len(screening)
            return None

        rows = [(f["item"].id, w) for f in facts.values() if (w := waiting(f)) is not None]
        rows.sort(key=lambda r: (-r[1][0], r[0]))
        queue = screening_queue(s, collection_id=coll.id)
        assert [(i.id, (n, total)) for i, n, total in queue] == rows
