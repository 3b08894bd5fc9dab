"""The union catalog (跨馆查询): other archives' public records, harvested over OAI-PMH into
tables of their own (never mixed with this archive's items or its search index).

Search folds text as the catalog's own search does (NFKC, traditional → simplified, variant
characters, lower case) and matches every query word as a substring of a record's title,
creator, reference code, subjects and description; hits name the holding archive and link
to its public page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, delete, select

from catalog.models import ForwardedRequest, HarvestSource, UnionRecord
from catalog.search.terms import Atom, normalize, parse_query
from configs.errors import BadInputError
from tasks.oaiclient import Record, http_url

MAX_QUERY = 200


def add_source(session: Session, *, name: str, url: str, set_spec: str = "", key: str = "") -> HarvestSource:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise BadInputError("a source name is 1-64 letters, digits, - or _")
    if not http_url(url):
        raise BadInputError(f"not an http(s) URL: {url!r}")
    if session.exec(select(HarvestSource).where(HarvestSource.name == name)).first():
        raise BadInputError(f"there is already a source {name!r}")
    source = HarvestSource(name=name, url=url.strip(), set_spec=set_spec.strip(), key=key)
    session.add(source)
    session.flush()
    return source


def sources(session: Session) -> list[HarvestSource]:
    return list(session.exec(select(HarvestSource).order_by(col(HarvestSource.name))).all())


def source_named(session: Session, name: str) -> HarvestSource:
    source = session.exec(select(HarvestSource).where(HarvestSource.name == name)).first()
    if source is None:
        raise BadInputError(f"no harvest source {name!r}", hint="lantai harvest list")
    return source


def _folded(fields: dict[str, str]) -> str:
    parts = (fields.get(k, "") for k in ("title", "creator", "reference_code", "subject", "description"))
    return normalize(" ".join(parts))


def apply_page(session: Session, source_id: int, records: list[Record]) -> tuple[int, int]:
    """Insert or update the page's records and drop its deleted ones (one transaction is
    the caller's). Returns (added or changed, deleted)."""
    changed = deleted = 0
    identifiers = [r.identifier for r in records]
    existing = {
        row.identifier: row
        for row in session.exec(
            select(UnionRecord).where(
                UnionRecord.source_id == source_id, col(UnionRecord.identifier).in_(identifiers)
            )
        ).all()
    }
    for record in records:
        row = existing.get(record.identifier)
        if record.deleted:
            if row is not None:
                forwarded = select(ForwardedRequest.id).where(ForwardedRequest.record_id == row.id)
                if session.exec(forwarded).first() is None:
                    session.delete(row)
                else:  # requests made for it keep their record, no longer searchable
                    row.folded, row.datestamp = "", record.datestamp
                    session.add(row)
                deleted += 1
            continue
        f = record.fields
        row = row or UnionRecord(source_id=source_id, identifier=record.identifier)
        row.datestamp = record.datestamp
        row.title, row.creator, row.date = f.get("title", ""), f.get("creator", ""), f.get("date", "")[:64]
        row.description, row.subject = f.get("description", ""), f.get("subject", "")
        row.kind, row.reference_code = f.get("kind", "")[:32], f.get("reference_code", "")[:256]
        row.link = http_url(f.get("link", ""))[:2048]
        row.folded = _folded(f)
        session.add(row)
        changed += 1
    return changed, deleted


def forget_source_records(session: Session, source_id: int) -> None:
    """Drop a source's records before a full re-harvest (its deletions may have been missed)."""
    keep = select(ForwardedRequest.record_id)
    session.exec(
        delete(UnionRecord).where(col(UnionRecord.source_id) == source_id, col(UnionRecord.id).not_in(keep))
    )


def count_records(session: Session, source_id: int) -> int:
    return int(
        session.exec(
            select(func.count()).where(UnionRecord.source_id == source_id, UnionRecord.folded != "")
        ).one()
    )


@dataclass
class UnionHit:
    record_id: int
    holder: str  # the holding archive's name
    source: str
    title: str
    creator: str
    date: str
    reference_code: str
    snippet: str
    link: str
    kind: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: str, *, limit: int = 20, source: str | None = None) -> list[UnionHit]:
    """Union records matching ``query`` as the catalog search reads it (every word, ``OR``
    for either, ``-word`` to exclude, ``"…"`` for a phrase), titles first."""
    if len(query) > MAX_QUERY:
        raise BadInputError(f"the query is longer than {MAX_QUERY} characters")
    parsed = parse_query(query)
    if not parsed.clauses:
        return []

    def like(atom: Atom) -> Any:
        pattern = "%".join(_escape_like(p.text) for p in atom.parts)
        return col(UnionRecord.folded).like(f"%{pattern}%", escape="\\")

    stmt = select(UnionRecord, HarvestSource).join(
        HarvestSource, col(HarvestSource.id) == UnionRecord.source_id
    )
    stmt = stmt.where(UnionRecord.folded != "")
    for clause in parsed.clauses:
        stmt = stmt.where(or_(*(like(atom) for atom in clause)))
    for atom in parsed.negated:
        stmt = stmt.where(~like(atom))
    if source:
        stmt = stmt.where(HarvestSource.name == source)
    rows = session.exec(stmt.order_by(col(UnionRecord.id)).limit(2000)).all()
    words = [p.text for a in parsed.atoms for p in a.parts]
    first = words[0]
    ranked = sorted(rows, key=lambda r: (first not in normalize(r[0].title), r[0].id))[:limit]
    hits = []
    for record, src in ranked:
        text = record.description or record.subject
        at = normalize(text).find(first)
        start = max(0, at - 30) if at >= 0 else 0
        hits.append(
            UnionHit(
                record_id=record.id or 0,
                holder=src.repository_name or src.name,
                source=src.name,
                title=record.title,
                creator=record.creator,
                date=record.date,
                reference_code=record.reference_code,
                snippet=text[start : start + 120],
                link=record.link,
                kind=record.kind,
            )
        )
    return hits
