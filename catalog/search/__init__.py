"""Full-text search over descriptions, OCR lines and transcript segments, in one query.

Each searchable unit is a ``SearchEntry`` row; SQLite indexes it with FTS5, PostgreSQL with
a GIN index on a stored tsvector, in hash partitions (migrations 0001 and 0006). A hit
carries its deep location: page + box for scans, start/end seconds for recordings.
"""

from __future__ import annotations

import html
import itertools
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, or_, text, true
from sqlmodel import Session, col, delete, select

from catalog import fields
from catalog.db import ITEM_COPIES
from catalog.models import Access, Item, Page, SearchEntry, Segment, Transcript
from catalog.review.redaction import Masks, mask_lines, mask_text, masks_for
from catalog.search import fuzzy as fuzzy_search
from catalog.search.terms import QueryPart, index_terms, query_parts, reading_view
from configs.errors import BadInputError

MAX_QUERY = 200
FIELD_WEIGHT = {"title": 4.0, "meta": 2.0, "page": 1.0, "segment": 1.0}
META_FIELDS = fields.SEARCHED
# between description fields: two spaces, which a phrase never reads through (one would be
# read through between CJK characters: 张三 李四 are two people, not a phrase)
FIELD_GAP = "  "


@dataclass
class Hit:
    item_id: int
    reference_code: str
    title: str
    kind: str
    snippet: str
    location: dict[str, Any] = field(default_factory=dict)
    field: str = ""
    score: float = 0.0
    segment_id: int | None = None  # a transcript hit's segment: it names the part of the recording
    fuzzy: bool = False  # found with one character different (ranked after the exact hits)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- indexing


def _entry(item_id: int, fld: str, body: str, **loc: Any) -> SearchEntry:
    terms = index_terms(body)
    return SearchEntry(
        item_id=item_id, field=fld, text=body, tokens=terms.tokens, bigrams=terms.bigrams, **loc
    )


@dataclass(frozen=True)
class IndexScope:
    """Which entries of an item to rebuild: all, or only its description, one page, or some
    segments (an editor's save touches one of these, and reindexing only it keeps a save of
    a 2,000-segment transcript fast)."""

    meta: bool = True
    page_no: int | None = None  # with pages=True: only this page
    pages: bool = True
    segment_ids: frozenset[int] | None = None  # with segments=True: only these
    segments: bool = True


ALL = IndexScope()


def description_part() -> IndexScope:
    return IndexScope(meta=True, pages=False, segments=False)


def page_part(page_no: int) -> IndexScope:
    return IndexScope(meta=False, pages=True, page_no=page_no, segments=False)


def segments_part(ids: Iterable[int]) -> IndexScope:
    return IndexScope(meta=False, pages=False, segments=True, segment_ids=frozenset(ids))


def reindex_item(session: Session, item: Item, part: IndexScope = ALL, *, fresh: bool = False) -> int:
    """Replace an item's search entries (all, or one ``part``) with ones built from its
    current record. Returns the count written. Open (开放) items get a second, public set
    of entries whose text has every screening hit that was not dismissed masked: public
    search reads only those, so neither a snippet nor the mere fact of a match can reveal
    masked text. ``fresh``: the item was created in this transaction and has no entries yet
    (ingest indexes thousands of new items at once: no delete to run for each)."""
    assert item.id is not None
    stale = delete(SearchEntry).where(col(SearchEntry.item_id) == item.id)
    if part != ALL:
        fields: list[Any] = []
        if part.meta:
            fields.append(col(SearchEntry.field).in_(["title", "meta"]))
        if part.pages:
            fields.append(
                (col(SearchEntry.field) == "page")
                & (col(SearchEntry.page_no) == part.page_no if part.page_no is not None else true())
            )
        if part.segments:
            fields.append(
                (col(SearchEntry.field) == "segment")
                & (
                    col(SearchEntry.segment_id).in_(part.segment_ids)
                    if part.segment_ids is not None
                    else true()
                )
            )
        stale = stale.where(or_(*fields))
    if not fresh:
        session.exec(stale)
    entries = _entries(session, item, masks=None, part=part)
    if item.access == Access.open:
        entries += _entries(session, item, masks=masks_for(session, item.id), part=part)
    session.add_all(entries)
    session.flush()
    return len(entries)


def _entries(session: Session, item: Item, *, masks: Masks | None, part: IndexScope) -> list[SearchEntry]:
    assert item.id is not None
    audience = "staff" if masks is None else "public"
    entries = []
    if part.meta:
        if masks is None:
            title = item.title
            meta = FIELD_GAP.join(str(getattr(item, f)) for f in META_FIELDS if getattr(item, f))
        else:  # the public's entries: only the fields the public site shows, masked
            from catalog.review.access import public_description

            shown = public_description(item, masks)
            title = shown["title"]
            meta = FIELD_GAP.join(shown[f] for f in META_FIELDS if shown.get(f))
        if title:
            entries.append(_entry(item.id, "title", title, audience=audience))
        if meta:  # with the title, so a query may combine words from both
            entries.append(_entry(item.id, "meta", f"{title}{FIELD_GAP}{meta}".strip(), audience=audience))
    if part.pages:
        # only the columns indexing reads (a page row also holds boxes of unread regions …)
        query = select(col(Page.page_no), col(Page.lines)).where(Page.item_id == item.id)
        if part.page_no is not None:
            query = query.where(Page.page_no == part.page_no)
        for page_no, lines in session.exec(query.order_by(col(Page.page_no))):
            texts = [str(line.get("text", "")) for line in lines]
            if masks is not None:
                texts = mask_lines(lines, masks.values)
            for line, body in zip(lines, texts, strict=True):
                if body:
                    entries.append(
                        _entry(
                            item.id,
                            "page",
                            body,
                            page_no=page_no,
                            bbox=list(line["bbox"]),
                            audience=audience,
                        )
                    )
    if part.segments:
        seg_query = select(Segment).join(Transcript).where(Transcript.item_id == item.id)
        if part.segment_ids is not None:
            seg_query = seg_query.where(col(Segment.id).in_(part.segment_ids))
        for seg in session.exec(seg_query.order_by(col(Transcript.id), col(Segment.seq))):
            body = seg.text
            if masks is not None:
                body = mask_text(body, masks.values)
            if body.strip():
                entries.append(
                    _entry(
                        item.id,
                        "segment",
                        body,
                        segment_id=seg.id,
                        start=seg.start,
                        end=seg.end,
                        audience=audience,
                    )
                )
    return entries


def reindex_all(session: Session) -> int:
    """Rebuild every item's entries (recovery). Returns the number of entries written."""
    return sum(reindex_item(session, item) for item in session.exec(select(Item)).all())


# ---------------------------------------------------------------- querying


def _fts5_query(parts: list[QueryPart], *, fuzzy: bool = False) -> str:
    clauses = []
    for p in parts:
        if fuzzy and fuzzy_search.eligible(p):
            clauses.append(fuzzy_search.fts5_clause(p))
        elif p.cjk and len(p.text) > 1:
            clauses.append('bigrams : "' + " ".join(p.bigrams) + '"')
        elif p.cjk or len(p.text) < 3:
            clauses.append(f'tokens : "{p.text}"')
        else:
            clauses.append(f'tokens : "{p.text}"*')
    return " AND ".join(clauses)


def _tsquery(parts: list[QueryPart], *, fuzzy: bool = False) -> str:
    clauses = []
    for p in parts:
        if fuzzy and fuzzy_search.eligible(p):
            clauses.append(fuzzy_search.tsquery_clause(p))
        elif p.cjk and len(p.text) > 1:
            clauses.append("(" + " <-> ".join(p.bigrams) + ")")
        elif p.cjk or len(p.text) < 3:
            clauses.append(p.text)
        else:
            clauses.append(f"{p.text}:*")
    return " & ".join(clauses)


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to. Years compare the first four digits of 日期."""

    collection: str | None = None
    kind: str | None = None  # scan | recording
    year_from: int | None = None
    year_to: int | None = None
    language: str | None = None
    status: str | None = None
    access: str | None = None  # 开放 | 控制 | 延期 | 未审核
    include_restricted: bool = False  # without it, only open (开放) items are searched
    audience: str = "staff"  # public: only the redacted entries of open items
    item_id: int | None = None  # only this item (IIIF Content Search within a manifest)

    def sql(self, *, copies: bool = False) -> tuple[str, dict[str, Any]]:
        """SQL conditions (each after `` AND ``) on the entry ``e`` and its item ``i``; with
        ``copies``, on the item fields copied into the entry instead (PostgreSQL, migration
        0006), so no join is needed."""
        item = "e.item_" if copies else "i."
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.collection:
            clauses.append(f"{item}collection_id = (SELECT id FROM collection WHERE code = :collection)")
            params["collection"] = self.collection
        for name in ("kind", "language", "status", "access"):
            if value := getattr(self, name):
                clauses.append(f"{item}{name} = :{name}")
                params[name] = value
        if self.year_from is not None:
            clauses.append(f"{item}date <> '' AND substr({item}date, 1, 4) >= :year_from")
            params["year_from"] = f"{self.year_from:04d}"
        if self.year_to is not None:
            clauses.append(f"{item}date <> '' AND substr({item}date, 1, 4) <= :year_to")
            params["year_to"] = f"{self.year_to:04d}"
        if not self.include_restricted or self.audience == "public":
            clauses.append(f"{item}access = :open")
            params["open"] = Access.open.value
        if self.item_id is not None:
            clauses.append("e.item_id = :item_id")
            params["item_id"] = self.item_id
        clauses.append("e.audience = :audience")
        params["audience"] = "public" if self.audience == "public" else "staff"
        return "".join(f" AND {c}" for c in clauses), params


def _parts(query: str) -> list[QueryPart]:
    if len(query) > MAX_QUERY:
        raise BadInputError(f"query is {len(query)} characters long; the limit is {MAX_QUERY}")
    parts = query_parts(query)
    if not parts:
        raise BadInputError("the query has no letters, digits or Chinese characters to search for")
    return parts


# Ranking considers at most this many matching entries (after the filters). A word found in
# millions of entries (档案 in an archive's catalog) would otherwise be scored in full on
# every query (6.8 s for 3.5 million entries on SQLite); beyond this many, the first ones in
# index order are ranked. Facet counts look at the same candidates. See docs/benchmarks.md.
CANDIDATES = 5_000


FACET_CAP = CANDIDATES  # matching entries facet counts look at (as many as the ranking does)
FACETS = {  # each facet's value, from a candidate's item fields (f.v_*) or its collection (c)
    "collection": "c.code",
    "kind": "f.v_kind",
    "year": "substr(f.v_date, 1, 4)",
    "language": "f.v_language",
    "status": "f.v_status",
    "access": "f.v_access",
}


class FacetCounts(dict[str, dict[str, int]]):
    """Per facet, how many matching items have each value. ``capped``: more than
    ``FACET_CAP`` entries matched, so the counts are lower bounds (shown as "n+")."""

    capped: bool = False


def _matching(
    session: Session,
    parts: list[QueryPart],
    filters: Filters,
    *,
    cap: int | None = None,
    facet_values: bool = False,
    fuzzy: bool = False,
) -> tuple[str, dict[str, Any]]:
    """SQL selecting (entry id, score) of every matching entry (or the first ``cap``), and
    its parameters; with ``facet_values`` also the item fields facets count (from the
    entry's copies on PostgreSQL, from the item on SQLite)."""
    weight = " ".join(f"WHEN '{k}' THEN {v}" for k, v in FIELD_WEIGHT.items())
    if session.get_bind().dialect.name == "sqlite":
        where, params = filters.sql()
        join = " JOIN item i ON i.id = e.item_id" if " i." in where or facet_values else ""
        values = "".join(f", i.{v} AS v_{v}" for v in ITEM_COPIES) if facet_values else ""
        params["q"] = _fts5_query(parts, fuzzy=fuzzy)
        sql = f"""SELECT e.id AS id, e.item_id AS item_id{values},
                         bm25(search_fts) * (CASE e.field {weight} ELSE 1 END) AS score
                  FROM search_fts JOIN search_entry e ON e.id = search_fts.rowid{join}
                  WHERE search_fts MATCH :q{where}"""
    else:
        where, params = filters.sql(copies=True)
        values = "".join(f", e.item_{v} AS v_{v}" for v in ITEM_COPIES) if facet_values else ""
        params["q"] = _tsquery(parts, fuzzy=fuzzy)
        sql = f"""SELECT e.id AS id, e.item_id AS item_id{values},
                         -ts_rank(e.tsv, q)
                         * (CASE e.field {weight} ELSE 1 END) AS score
                  FROM search_entry e, to_tsquery('simple', :q) q
                  WHERE e.tsv @@ q{where}"""
    if cap is not None:
        sql += " LIMIT :cap"
        params["cap"] = cap
    return sql, params


def search(
    session: Session,
    query: str,
    *,
    filters: Filters | None = None,
    collection: str | None = None,
    kind: str | None = None,
    include_restricted: bool = False,
    limit: int = 20,
) -> list[Hit]:
    """Hits for ``query``, best first. Without ``include_restricted`` only open (开放) items
    count. ``collection``, ``kind`` and ``include_restricted`` are shorthands for ``filters``."""
    filters = filters or Filters(collection=collection, kind=kind, include_restricted=include_restricted)
    return search_with_facets(session, query, filters=filters, limit=limit, with_facets=False)[0]


def search_with_facets(
    session: Session,
    query: str,
    *,
    filters: Filters,
    limit: int = 20,
    with_facets: bool = True,
    fuzzy: bool = False,
) -> tuple[list[Hit], FacetCounts]:
    """The hits, best first, and the facet counts over the same candidates, in one
    statement: the matching entries are found once (the expensive step), then ranked and
    counted in the database, so only the best rows and the counts come back. ``fuzzy``:
    where the exact hits do not fill ``limit``, phrases with one character different follow
    them (``catalog.search.fuzzy``; facets count the exact hits)."""
    parts = _parts(query)
    if not with_facets:
        matching, params = _matching(session, parts, filters, cap=CANDIDATES)
        sql = f"SELECT id, score FROM ({matching}) m ORDER BY score LIMIT :limit"
        rows = [(r[0], r[1]) for r in session.execute(text(sql), params | {"limit": limit}).all()]
        counts = FacetCounts()
    else:
        rows, counts = _ranked_and_counted(session, parts, filters, limit)
    hits = _hits(session, rows, parts, filters)
    if fuzzy and len(hits) < limit and any(fuzzy_search.eligible(p) for p in parts):
        hits += _fuzzy_hits(session, parts, filters, limit - len(hits), exact={r[0] for r in rows})
    return hits, counts


def _fuzzy_hits(
    session: Session, parts: list[QueryPart], filters: Filters, limit: int, *, exact: set[int]
) -> list[Hit]:
    """Entries holding each fuzzy phrase with exactly one character different (and the
    other words as they are), best first, none of the ``exact`` ones; the differing
    characters marked."""
    matching, params = _matching(session, parts, filters, cap=CANDIDATES, fuzzy=True)
    sql = f"SELECT id, score FROM ({matching}) m ORDER BY score"
    rows = [(int(r[0]), float(r[1])) for r in session.execute(text(sql), params).all() if r[0] not in exact]
    found: list[Hit] = []
    for start in range(0, len(rows), FUZZY_BATCH):  # entries loaded a batch at a time, until the page is full
        found += _near_hits(session, rows[start : start + FUZZY_BATCH], parts, filters)
        if len(found) >= limit:
            break
    return found[:limit]


FUZZY_BATCH = 100  # candidate entries loaded and checked at a time


def _near_hits(
    session: Session, rows: list[tuple[int, float]], parts: list[QueryPart], filters: Filters
) -> list[Hit]:
    """The candidates that hold each fuzzy phrase with one character different."""
    found: list[Hit] = []
    for hit, entry_text in _entry_hits(session, rows, parts, filters):
        spans, differs = [], []
        for p in parts:
            if fuzzy_search.eligible(p):
                near = fuzzy_search.near_matches(entry_text, p)
                if not near:
                    break
                spans += [(m.start, m.end) for m in near]
                differs += [m.differs for m in near]
            else:
                spans += match_spans(entry_text, [p])
        else:
            hit.snippet = snippet(entry_text, _merged(spans), differs=set(differs))
            hit.fuzzy = True
            found.append(hit)
    return found


def _materialized(session: Session) -> str:
    """``MATERIALIZED`` where the database knows it (PostgreSQL 12, SQLite 3.35 and later):
    the matching entries are found once for the ranking and every facet."""
    if session.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return ""
    return "MATERIALIZED "


def _ranked_and_counted(
    session: Session, parts: list[QueryPart], filters: Filters, limit: int
) -> tuple[list[tuple[int, float]], FacetCounts]:
    cap = max(CANDIDATES, FACET_CAP)
    matching, params = _matching(session, parts, filters, cap=cap + 1, facet_values=True)
    counted = " UNION ALL ".join(
        f"""SELECT '{name}' AS facet, {expr} AS value, count(DISTINCT f.item_id) AS n,
                   CAST(NULL AS BIGINT) AS id, CAST(NULL AS FLOAT) AS score
            FROM (SELECT * FROM m LIMIT :fcap) f JOIN collection c ON c.id = f.v_collection_id
            GROUP BY {expr}"""
        for name, expr in FACETS.items()
    )
    sql = f"""WITH m AS {_materialized(session)}({matching})
              SELECT * FROM (SELECT '' AS facet, CAST(NULL AS TEXT) AS value, CAST(NULL AS BIGINT) AS n,
                                    id, score
                             FROM (SELECT * FROM m LIMIT :rcap) r ORDER BY score LIMIT :limit) top
              UNION ALL SELECT '_total', CAST(NULL AS TEXT), count(*), CAST(NULL AS BIGINT),
                               CAST(NULL AS FLOAT) FROM m
              UNION ALL {counted}"""
    params |= {"limit": limit, "rcap": CANDIDATES, "fcap": FACET_CAP}
    rows: list[tuple[int, float]] = []
    out = FacetCounts({name: {} for name in FACETS})
    for facet, value, n, entry_id, score in session.execute(text(sql), params).all():
        if facet == "":
            rows.append((int(entry_id), float(score)))
        elif facet == "_total":
            out.capped = int(n) > FACET_CAP
        elif value:
            out[facet][str(value)] = int(n)
    for name in FACETS:
        out[name] = dict(sorted(out[name].items(), key=lambda kv: (-kv[1], kv[0])))
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows, out


def _hits(
    session: Session, rows: list[tuple[int, float]], parts: list[QueryPart], filters: Filters
) -> list[Hit]:
    return [hit for hit, _text in _entry_hits(session, rows, parts, filters)]


def _entry_hits(
    session: Session, rows: list[tuple[int, float]], parts: list[QueryPart], filters: Filters
) -> list[tuple[Hit, str]]:
    """Each row's hit with the text of its entry (what the snippet was cut from)."""
    if not rows:
        return []
    ids = [entry_id for entry_id, _ in rows]
    entries = {e.id: e for e in session.exec(select(SearchEntry).where(col(SearchEntry.id).in_(ids)))}
    item_ids = {e.item_id for e in entries.values()}
    items = {i.id: i for i in session.exec(select(Item).where(col(Item.id).in_(item_ids)))}
    lines = _page_lines(session, [e for e in entries.values() if e.field == "page"])
    if filters.audience == "public":  # the public's hits show the masked title, as their pages do
        from catalog.review.access import public_description

        for item_id in list(items):
            found = items[item_id]
            shown = public_description(found, masks_for(session, item_id or 0))
            items[item_id] = found.model_copy(
                update={"title": shown["title"], "reference_code": shown["reference_code"]}
            )
    hits: list[tuple[Hit, str]] = []
    described: set[int] = set()  # one description hit per item (title and metadata together)
    for entry_id, score in rows:
        entry = entries.get(entry_id)
        item = items.get(entry.item_id) if entry else None
        if entry is None or item is None:
            continue
        if entry.field in ("title", "meta"):
            if entry.item_id in described:
                continue
            described.add(entry.item_id)
        hits.append((_hit(entry, item, parts, float(score), lines), entry.text))
    return hits


PageLines = dict[tuple[int, int | None], list[dict[str, Any]]]


def _page_lines(session: Session, entries: list[SearchEntry]) -> PageLines:
    """The OCR lines of the pages these entries come from, by (item id, page number)."""
    if not entries:
        return {}
    keys = {(e.item_id, e.page_no) for e in entries}
    # OR of pairs rather than a row-value IN, which SQLite answers with a full scan
    pairs = [and_(col(Page.item_id) == i, col(Page.page_no) == n) for i, n in keys]
    query = select(Page).where(or_(*pairs))
    return {(p.item_id, p.page_no): p.lines for p in session.exec(query)}


def _hit(entry: SearchEntry, item: Item, parts: list[QueryPart], score: float, lines: PageLines) -> Hit:
    spans = match_spans(entry.text, parts)
    location: dict[str, Any] = {}
    if entry.field == "page":
        page_lines = lines.get((entry.item_id, entry.page_no), [])
        location = {"page": entry.page_no, "bbox": _match_bbox(page_lines, entry, spans)}
    elif entry.field == "segment":
        location = {"start": round(float(entry.start or 0.0), 2), "end": round(float(entry.end or 0.0), 2)}
    return Hit(
        item_id=item.id or 0,
        reference_code=item.reference_code,
        title=item.title,
        kind=item.kind,
        snippet=snippet(entry.text, spans),
        location=location,
        field=entry.field,
        score=round(-score, 4),
        segment_id=entry.segment_id if entry.field == "segment" else None,
    )


def match_spans(body: str, parts: list[QueryPart]) -> list[tuple[int, int]]:
    """Character spans of ``body`` where a query part occurs (normalization-insensitive)."""
    compact, kept = reading_view(body)  # read through a whitespace between CJK, as the index does
    spans = []
    for p in parts:
        start = 0
        while (pos := compact.find(p.text, start)) >= 0:
            spans.append((kept[pos], kept[pos + len(p.text) - 1] + 1))
            start = pos + len(p.text)
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, those that overlap or touch made one."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def snippet(
    body: str, spans: list[tuple[int, int]], *, width: int = 60, differs: set[int] | None = None
) -> str:
    """HTML-safe snippet around the first match, matches wrapped in <mark>; a character
    at a position in ``differs`` (a fuzzy match's wrong one) in ``<mark class="differs">``."""
    if not spans:
        return html.escape(body[:width])
    lo = max(0, spans[0][0] - width // 3)
    hi = min(len(body), lo + width)
    out, pos = ["…" if lo else ""], lo
    for s, e in spans:
        if s >= hi or e <= lo:
            continue
        s, e = max(s, lo), min(e, hi)
        out.append(html.escape(body[pos:s]))
        cuts = sorted({s, e, *(d for d in (differs or ()) if s <= d < e)})
        for a, b in itertools.pairwise(cuts):  # runs split at the differing characters
            if a in (differs or ()):
                out += ['<mark class="differs">', html.escape(body[a]), "</mark>"]
                a += 1
            if a < b:
                out += ["<mark>", html.escape(body[a:b]), "</mark>"]
        pos = e
    out += [html.escape(body[pos:hi]), "…" if hi < len(body) else ""]
    return "".join(out)


def _match_bbox(
    lines: list[dict[str, Any]], entry: SearchEntry, spans: list[tuple[int, int]]
) -> list[int] | None:
    """The box of the words the match covers, or the line's box."""
    line = next(
        (ln for ln in lines if ln.get("text") == entry.text and list(ln.get("bbox", [])) == entry.bbox),
        None,
    )
    if not line or not spans:
        return entry.bbox
    boxes, cursor = [], 0
    for word in line.get("words", []):
        pos = entry.text.find(word["text"], cursor)
        if pos < 0:
            continue
        cursor = pos + len(word["text"])
        if any(pos < e and s < cursor for s, e in spans):
            boxes.append(word["bbox"])
    if not boxes:
        return entry.bbox
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def facets(session: Session, query: str, *, filters: Filters | None = None) -> FacetCounts:
    """For each facet, how many matching items have each value (restricted items counted
    only when the filters include them). Counted over the first ``FACET_CAP`` matching
    entries, so a frequent term on a large catalog costs what its ranking costs; beyond
    the cap the counts are marked as lower bounds."""
    return _ranked_and_counted(session, _parts(query), filters or Filters(), 0)[1]
