"""Full-text search over descriptions, OCR lines and transcript segments, in one query.

Each searchable unit is a ``SearchEntry`` row; SQLite indexes it with FTS5, PostgreSQL with
a GIN index on a stored tsvector, in hash partitions (migrations 0001 and 0006). A hit
carries its deep location: page + box for scans, start/end seconds for recordings.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, or_, text, true
from sqlmodel import Session, col, delete, select

from catalog import fields
from catalog.models import Access, Item, Page, SearchEntry, Segment
from catalog.review.redaction import Masks, enclosing, line_boxes, mask_lines, mask_text, masks_for
from catalog.search import fuzzy as fuzzy_search
from catalog.search.running import Unit, locate, windows
from catalog.search.terms import (
    CJK,
    MAX_ATOMS,
    Atom,
    ParsedQuery,
    QueryPart,
    index_terms,
    parse_query,
    reading_view,
)
from configs.errors import BadInputError

MAX_QUERY = 200
FIELD_WEIGHT = {"title": 4.0, "meta": 2.0, "page": 1.0, "segment": 1.0}
META_FIELDS = fields.SEARCHED
SEGMENTS_PER_ENTRY = 16  # transcript segments one search entry holds, on average (a minute or so)
# between description fields: two spaces, which a phrase never reads through (one would be
# read through between CJK characters: 张三 李四 are two people, not a phrase)
FIELD_GAP = "  "


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
    a 2,000-segment transcript fast). The entries whose overlap reaches into the changed
    page or segments are rebuilt with them (``catalog.search.running``)."""

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
    audiences: list[Masks | None] = [None]
    if item.access == Access.open:
        audiences.append(masks_for(session, item.id))
    elif not fresh:  # the public entries of an item no longer open
        public = col(SearchEntry.audience) == "public"
        session.exec(delete(SearchEntry).where(col(SearchEntry.item_id) == item.id, public))
    written = 0
    for masks in audiences:
        entries, touched = _entries(session, item, masks=masks, part=part)
        if not fresh:
            session.exec(_stale(item.id, "staff" if masks is None else "public", part, touched))
        session.add_all(entries)
        written += len(entries)
    session.flush()
    return written


def _stale(item_id: int, audience: str, part: IndexScope, touched: _Touched) -> Any:
    """The delete of the entries ``part`` replaces (with those whose overlap reached in)."""
    mine = (col(SearchEntry.item_id) == item_id) & (col(SearchEntry.audience) == audience)
    stale = delete(SearchEntry).where(mine)
    if part == ALL:
        return stale
    fields: list[Any] = []
    if part.meta:
        fields.append(col(SearchEntry.field).in_(["title", "meta"]))
    if part.pages:
        fields.append(
            (col(SearchEntry.field) == "page")
            & (col(SearchEntry.page_no).in_(touched.pages) if part.page_no is not None else true())
        )
    if part.segments:
        fields.append(
            (col(SearchEntry.field) == "segment")
            & (
                # a merged segment is gone: its passage's entry still names it
                col(SearchEntry.segment_id).in_(touched.segments | set(part.segment_ids))
                if part.segment_ids is not None
                else true()
            )
        )
    return stale.where(or_(*fields))


@dataclass
class _Touched:
    """The pages and segments whose entries a rebuild of a part writes."""

    pages: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)  # the ids of the segments rebuilt


def _entries(
    session: Session, item: Item, *, masks: Masks | None, part: IndexScope
) -> tuple[list[SearchEntry], _Touched]:
    assert item.id is not None
    audience = "staff" if masks is None else "public"
    entries = []
    touched = _Touched()
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
        # only the columns indexing reads (a page row also holds boxes of unread regions …);
        # every page, for the running text, but terms are built only for the pages wanted
        query = select(col(Page.page_no), col(Page.lines)).where(Page.item_id == item.id)
        units = []
        for page_no, lines in session.exec(query.order_by(col(Page.page_no))):
            texts = [str(line.get("text", "")) for line in lines]
            if masks is not None:
                texts = mask_lines(lines, masks.values)
            units.append(Unit(page_no, [([page_no, n], body) for n, body in enumerate(texts)]))
        only = {part.page_no} if part.page_no is not None else None
        found, keys = windows(units, only=only)
        touched.pages = keys
        for win in found:
            entries.append(
                _entry(item.id, "page", win.text, page_no=win.key, pieces=win.as_json(), audience=audience)
            )
    if part.segments:
        seg_query = text(
            """SELECT s.id, s.transcript_id, s.start, s."end", s.text FROM segment s
               JOIN transcript t ON t.id = s.transcript_id WHERE t.item_id = :item
               ORDER BY t.id, s.seq"""
        )
        wanted = set(part.segment_ids) if part.segment_ids is not None else None
        segs = session.execute(seg_query, {"item": item.id})
        for _transcript, rows in itertools.groupby(segs, key=lambda r: r[1]):
            # passages of about SEGMENTS_PER_ENTRY segments: one begins at the part's first
            # segment and at every segment whose id is a multiple of it. Ids do not change
            # when a segment is edited, split (the new one takes a new id) or merged (one id
            # goes), so a save rebuilds only its passage and the one before (whose overlap
            # reads into it), never the rest of a long interview
            passages: list[Unit] = []
            for seg_id, _t, seg_start, seg_end, body in rows:
                if not passages or seg_id % SEGMENTS_PER_ENTRY == 0:
                    passages.append(Unit(seg_id, []))
                passages[-1].pieces.append(([seg_id, round(seg_start, 2), round(seg_end, 2)], body.strip()))
            only = None
            if wanted is not None:
                held = [n for n, u in enumerate(passages) if any(ref[0] in wanted for ref, _ in u.pieces)]
                only = {passages[m].key for n in held for m in (n - 1, n) if m >= 0}
                if not only:
                    continue
                # the text around them is enough: an overlap reaches 64 characters on
                passages = passages[max(0, min(held) - 3) : max(held) + 4]
            if masks is not None:
                for u in passages:
                    u.pieces = [(ref, mask_text(body, masks.values)) for ref, body in u.pieces]
            found, keys = windows(passages, only=only)
            touched.segments |= keys
            times = {u.key: (u.pieces[0][0][1], u.pieces[-1][0][2]) for u in passages}
            for win in found:
                start, end = times[win.key]
                entries.append(
                    _entry(
                        item.id,
                        "segment",
                        win.text,
                        segment_id=win.key,
                        start=start,
                        end=end,
                        pieces=win.as_json(),
                        audience=audience,
                    )
                )
    return entries, touched


def reindex_all(session: Session) -> int:
    """Rebuild every item's entries (recovery). Returns the number of entries written."""
    return sum(reindex_item(session, item) for item in session.exec(select(Item)).all())


# ---------------------------------------------------------------- querying


def _atom_fts5(atom: Atom, *, fuzzy: bool = False) -> str:
    p = atom.single
    if p is None:  # a phrase across scripts or words: its tokens in order
        return 'tokens : "' + " ".join(atom.tokens) + '"'
    if fuzzy and fuzzy_search.eligible(p):
        return fuzzy_search.fts5_clause(p)
    if p.cjk and len(p.text) > 1:
        return 'bigrams : "' + " ".join(p.bigrams) + '"'
    if p.cjk or len(p.text) < 3 or atom.quoted:
        return f'tokens : "{p.text}"'
    return f'tokens : "{p.text}"*'


def _atom_tsquery(atom: Atom, *, fuzzy: bool = False) -> str:
    p = atom.single
    if p is None:
        return "(" + " <-> ".join(atom.tokens) + ")"
    if fuzzy and fuzzy_search.eligible(p):
        return fuzzy_search.tsquery_clause(p)
    if p.cjk and len(p.text) > 1:
        return "(" + " <-> ".join(p.bigrams) + ")"
    if p.cjk or len(p.text) < 3 or atom.quoted:
        return p.text
    return f"{p.text}:*"


def _any_of(session: Session, atoms: Iterable[Atom], *, fuzzy: bool = False) -> str:
    """The full-text query for entries holding any of ``atoms``, in the database's syntax."""
    if session.get_bind().dialect.name == "sqlite":
        return " OR ".join(f"({_atom_fts5(a, fuzzy=fuzzy)})" for a in atoms)
    return " | ".join(f"({_atom_tsquery(a, fuzzy=fuzzy)})" for a in atoms)


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


def _parsed(query: str) -> ParsedQuery:
    if len(query) > MAX_QUERY:
        raise BadInputError(f"query is {len(query)} characters long; the limit is {MAX_QUERY}")
    parsed = parse_query(query)
    if not parsed.clauses:
        raise BadInputError(
            "the query has no letters, digits or Chinese characters to search for"
            + (" (only words to exclude)" if parsed.negated else "")
        )
    if len(parsed.atoms) + len(parsed.negated) > MAX_ATOMS:
        raise BadInputError(f"the query has more than {MAX_ATOMS} words and phrases")
    return parsed


# Each word or phrase of a query considers at most this many matching entries (after the
# filters). A word found in millions of entries (档案 in an archive's catalog) would
# otherwise be scored in full on every query (6.8 s for 3.5 million entries on SQLite);
# beyond this many, the first ones in index order are taken, and a word that is capped is
# looked up again only within the items the other words hold. See docs/benchmarks.md.
CANDIDATES = 5_000
SNIPPETS = 3  # hits shown per item: its best pages, segments or description
# matching entries of one result item whose text is read for its snippets, best first (and
# for a fuzzy search, to find its near matches); past these, the item's matching entries
# are counted as the index has them (where a phrase lies wholly in the first 64 characters
# of a page or passage, the one before it holds it too and is counted as well)
CHECKED_PER_ITEM = 10
CHECKED_FUZZY = 50
ITEMS_PER_STATEMENT = 10_000  # under SQLite's 32,766 bound variables
K1 = 1.2  # BM25's term-frequency saturation, applied to how many entries of an item match

FACETS = ("collection", "kind", "year", "language", "status", "access")


class FacetCounts(dict[str, dict[str, int]]):
    """Per facet, how many matching items have each value. ``capped``: a word matched more
    than ``CANDIDATES`` entries, so the counts are lower bounds (shown as "n+")."""

    capped: bool = False


@dataclass
class Hit:
    """One place in an item where the query is found: its description, a page (with the
    boxes of the match) or a segment (with the time its first word is spoken)."""

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
        """A hit as it appears inside its item (the item's fields are the item's), its
        snippet as read (``shown``)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("reference_code", "title", "kind")}
        return out | {"snippet": shown(self.snippet)}


@dataclass
class ItemResult:
    """One result: an item, its score, how many of its pages, segments and description
    hold the query (``hit_count``), and the best few of those hits."""

    item_id: int
    reference_code: str
    title: str
    kind: str
    score: float
    hit_count: int
    hits: list[Hit]
    fuzzy: bool = False  # found only with one character different

    def as_json(self) -> dict[str, Any]:
        """The ``search --json`` shape: the item, its best hit's ``snippet`` and ``location``
        (as one hit was before results were items), and all its shown ``hits``."""
        best = self.hits[0] if self.hits else None
        return {
            "item_id": self.item_id,
            "reference_code": self.reference_code,
            "title": self.title,
            "kind": self.kind,
            "snippet": shown(best.snippet) if best else "",
            "location": best.location if best else {},
            "score": self.score,
            "hit_count": self.hit_count,
            "fuzzy": self.fuzzy,
            "hits": [h.as_json() for h in self.hits],
        }


@dataclass
class Results:
    """A page of results, best first, and how many items match in all (``total``; a lower
    bound when ``facets.capped``)."""

    items: list[ItemResult]
    facets: FacetCounts
    total: int
    offset: int = 0

    @property
    def capped(self) -> bool:
        return self.facets.capped


Rows = dict[int, dict[int, float]]  # item id → entry id → weighted score (lower is better)


def _rows(
    session: Session,
    expr: str,
    filters: Filters,
    *,
    cap: int | None = None,
    items: Iterable[int] | None = None,
) -> list[tuple[int, int, float]]:
    """(entry id, item id, weighted score) of the entries matching the full-text query
    ``expr`` and ``filters``: the first ``cap``, or every one within ``items``. They come
    back one row per item (the entries and scores as one string): thousands of rows cost
    more to fetch than the index takes to find them."""
    weight = " ".join(f"WHEN '{k}' THEN {v}" for k, v in FIELD_WEIGHT.items())
    if session.get_bind().dialect.name == "sqlite":
        where, params = filters.sql()
        join = " JOIN item i ON i.id = e.item_id" if " i." in where else ""
        sql = f"""SELECT e.id AS id, e.item_id AS item_id,
                         bm25(search_fts) * (CASE e.field {weight} ELSE 1 END) AS score
                  FROM search_fts JOIN search_entry e ON e.id = search_fts.rowid{join}
                  WHERE search_fts MATCH :q{where}"""
        concat = "group_concat(id || ':' || score)"
    else:
        where, params = filters.sql(copies=True)
        sql = f"""SELECT e.id AS id, e.item_id AS item_id,
                         -ts_rank(e.tsv, q) * (CASE e.field {weight} ELSE 1 END) AS score
                  FROM search_entry e, to_tsquery('simple', :q) q
                  WHERE e.tsv @@ q{where}"""
        concat = "string_agg(id || ':' || score, ',')"
    params["q"] = expr

    def grouped(inner: str) -> str:
        return f"SELECT item_id, {concat} FROM ({inner}) m GROUP BY item_id"

    def parsed(result: Any) -> list[tuple[int, int, float]]:
        out = []
        for item_id, listed in result:
            for pair in str(listed).split(","):
                entry_id, score = pair.split(":")
                out.append((int(entry_id), int(item_id), float(score)))
        return out

    if items is None:
        if cap is not None:
            sql += " LIMIT :cap"
            params["cap"] = cap
        return parsed(session.execute(text(grouped(sql)), params))
    ids = sorted(items)
    # (a LIMIT keeps SQLite from folding the inner query into the grouping, where bm25
    # cannot be called)
    unlimited = " LIMIT -1" if session.get_bind().dialect.name == "sqlite" else ""
    statement = text(grouped(sql + " AND e.item_id IN :items" + unlimited))
    statement = statement.bindparams(bindparam("items", expanding=True))
    out = []
    # one statement for up to ITEMS_PER_STATEMENT items (at most CANDIDATES here): SQLite
    # reads the word's whole posting list for each statement, whatever the items
    for start in range(0, len(ids), ITEMS_PER_STATEMENT):
        out += parsed(
            session.execute(statement, params | {"items": ids[start : start + ITEMS_PER_STATEMENT]})
        )
    return out


def _grouped(rows: list[tuple[int, int, float]]) -> Rows:
    out: Rows = {}
    for entry_id, item_id, score in rows:
        out.setdefault(item_id, {})[entry_id] = score
    return out


def _qualifying(
    session: Session, parsed: ParsedQuery, filters: Filters, *, fuzzy: bool = False
) -> tuple[dict[int, list[dict[int, float]]], bool]:
    """The items that meet every clause and hold no excluded word, each with the matching
    entries of each clause; and whether a cap made the answer a lower bound.

    Each clause is one index query, capped at ``CANDIDATES`` entries. Where a clause hits
    the cap and another does not, the capped one is asked again within the other's items
    (complete, and cheap: the rare word leads); only when every clause is capped is the
    answer a lower bound."""
    per_clause: list[Rows] = []
    capped: list[bool] = []
    for clause in parsed.clauses:
        rows = _rows(session, _any_of(session, clause, fuzzy=fuzzy), filters, cap=CANDIDATES + 1)
        capped.append(len(rows) > CANDIDATES)
        per_clause.append(_grouped(rows[:CANDIDATES]))
    complete = [set(c) for c, cut in zip(per_clause, capped, strict=True) if not cut]
    items = set.intersection(*complete) if complete else set.intersection(*(set(c) for c in per_clause))
    lower_bound = not complete
    for k, cut in enumerate(capped):
        if cut and complete:
            expr = _any_of(session, parsed.clauses[k], fuzzy=fuzzy)
            per_clause[k] = _grouped(_rows(session, expr, filters, items=items))
        items &= set(per_clause[k])
    if parsed.negated and items:
        # the same audience's entries: a word masked in the public's text excludes nothing there
        excluded = _rows(session, _any_of(session, parsed.negated), filters, items=items)
        items -= {item_id for _, item_id, _ in excluded}
    return {i: [c[i] for c in per_clause] for i in items}, lower_bound


def _item_score(clauses: list[dict[int, float]]) -> float:
    """An item's score (lower is better): per clause, its best entry's weighted score,
    raised by BM25's saturation of how many entries hold it; summed over the clauses."""
    total = 0.0
    for entries in clauses:
        n = len(entries)
        total += min(entries.values()) * (K1 + 1) * n / (n + K1)
    return total


def search(
    session: Session,
    query: str,
    *,
    filters: Filters | None = None,
    collection: str | None = None,
    kind: str | None = None,
    include_restricted: bool = False,
    limit: int = 20,
) -> list[ItemResult]:
    """Items matching ``query``, best first. Without ``include_restricted`` only open (开放)
    items count. ``collection``, ``kind`` and ``include_restricted`` are shorthands for
    ``filters``."""
    filters = filters or Filters(collection=collection, kind=kind, include_restricted=include_restricted)
    return search_items(session, query, filters=filters, limit=limit, with_facets=False).items


def search_items(
    session: Session,
    query: str,
    *,
    filters: Filters,
    limit: int = 20,
    offset: int = 0,
    with_facets: bool = True,
    fuzzy: bool = False,
) -> Results:
    """One result per item, best first, from ``offset``; the facet counts over every
    matching item. ``fuzzy``: after the exact results, the items that hold each fuzzy
    phrase with one character different (``catalog.search.fuzzy``; facets count the exact
    results)."""
    parsed = _parsed(query)
    found, capped = _qualifying(session, parsed, filters)
    order = sorted(found, key=lambda i: (_item_score(found[i]), i))
    items = _results(session, order[offset : offset + limit], found, parsed, filters)
    total = len(order)
    if fuzzy and len(items) < limit and any(_fuzzy_atom(a) for a in parsed.atoms):
        near, _ = _qualifying(session, parsed, filters, fuzzy=True)
        more = sorted((i for i in near if i not in found), key=lambda i: (_item_score(near[i]), i))
        skip = max(0, offset - total)
        for start in range(0, len(more), FUZZY_BATCH):  # checked a batch of items at a time
            checked = _results(session, more[start : start + FUZZY_BATCH], near, parsed, filters, fuzzy=True)
            items += checked[skip:]
            skip = max(0, skip - len(checked))
            if len(items) >= limit:
                break
        items = items[:limit]
    counts = _facets(session, found) if with_facets else FacetCounts()
    counts.capped = capped
    return Results(items, counts, total, offset)


FUZZY_BATCH = 20  # items whose entries are read and checked at a time for fuzzy matches


def _fuzzy_atom(atom: Atom) -> bool:
    return atom.single is not None and fuzzy_search.eligible(atom.single)


def entry_hits(session: Session, query: str, *, filters: Filters, limit: int) -> list[Hit]:
    """Every match of ``query`` within the items ``filters`` allow (one per match, not one
    per item): what IIIF Content Search answers within one manifest."""
    parsed = _parsed(query)
    found, _ = _qualifying(session, parsed, filters)
    order = sorted(found, key=lambda i: (_item_score(found[i]), i))
    out: list[Hit] = []
    for result in _results(session, order, found, parsed, filters, every_match=True):
        out += result.hits
    return out[:limit]


def _facets(session: Session, items: Iterable[int]) -> FacetCounts:
    """For each facet, how many of ``items`` have each value."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    ids = sorted(items)
    statement = text(
        """SELECT c.code, i.kind, substr(i.date, 1, 4), i.language, i.status, i.access
           FROM item i JOIN collection c ON c.id = i.collection_id WHERE i.id IN :ids"""
    ).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(ids), 1000):
        for row in session.execute(statement, {"ids": ids[start : start + 1000]}):
            for name, value in zip(FACETS, row, strict=True):
                if value:
                    counts[name][str(value)] += 1
    out = FacetCounts()
    for name in FACETS:
        out[name] = dict(sorted(counts[name].items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def facets(session: Session, query: str, *, filters: Filters | None = None) -> FacetCounts:
    """For each facet, how many matching items have each value (restricted items counted
    only when the filters include them)."""
    return search_items(session, query, filters=filters or Filters(), limit=0).facets


# ---------------------------------------------------------------- hits


def _results(
    session: Session,
    order: list[int],
    found: dict[int, list[dict[int, float]]],
    parsed: ParsedQuery,
    filters: Filters,
    *,
    fuzzy: bool = False,
    every_match: bool = False,
) -> list[ItemResult]:
    """The results for the items in ``order``: each with its hits, cut from the entries'
    texts. A hit is an entry where a match *starts* in the entry's own text (a match that
    starts in the overlap is the next entry's). ``fuzzy``: only items where every clause
    is met by an exact or a one-character-different match, and at least one of the latter.
    ``every_match``: a hit per match rather than per entry, and every entry."""
    if not order:
        return []
    scores: dict[int, dict[int, float]] = {}
    for item_id in order:
        merged: dict[int, float] = {}
        for entries in found[item_id]:
            for entry_id, score in entries.items():
                merged[entry_id] = min(score, merged.get(entry_id, score))
        scores[item_id] = merged
    ranked = {i: sorted(scores[i], key=lambda e, i=i: (scores[i][e], e)) for i in order}  # type: ignore[misc]
    cut = None if every_match else (CHECKED_FUZZY if fuzzy else CHECKED_PER_ITEM)
    wanted = [e for i in order for e in ranked[i][:cut]]
    loaded = {
        e.id or 0: e
        for start in range(0, len(wanted), 1000)
        for e in session.exec(
            select(SearchEntry).where(col(SearchEntry.id).in_(wanted[start : start + 1000]))
        )
    }
    # first the spans of every entry read, then the boxes and times of the hits shown only
    picked: dict[int, tuple[int, list[tuple[SearchEntry, list[tuple[int, int]], set[int]]]]] = {}
    for item_id in order:
        chosen: list[tuple[SearchEntry, list[tuple[int, int]], set[int]]] = []
        met = [False] * len(parsed.clauses)
        near_used = described = False
        count = len(ranked[item_id][cut:]) if cut is not None else 0  # counted as the index has them
        for entry_id in ranked[item_id][:cut]:
            entry = loaded.get(entry_id)
            if entry is None:
                continue
            own = _own(entry)
            view = reading_view(entry.text)  # once per entry, for every word of the query
            spans: list[tuple[int, int]] = []
            differs: set[int] = set()
            for k, clause in enumerate(parsed.clauses):
                for atom in clause:
                    exact = [sp for sp in atom_spans(entry.text, atom, view) if sp[0] < own]
                    spans += exact
                    met[k] = met[k] or bool(exact)
                    p = atom.single
                    if fuzzy and not exact and p is not None and fuzzy_search.eligible(p):
                        near = [m for m in fuzzy_search.near_matches(entry.text, p, view) if m.start < own]
                        spans += [(m.start, m.end) for m in near]
                        differs |= {m.differs for m in near}
                        met[k] = met[k] or bool(near)
                        near_used = near_used or bool(near)
            spans = _merged(spans)
            if not spans:
                continue  # a match only in the overlap: the next entry's hit
            if entry.field in ("title", "meta"):
                if described:
                    continue
                described = True
            count += 1
            chosen.append((entry, spans, differs))
        if fuzzy and not (all(met) and near_used):
            continue
        if chosen:  # (none: matched in the index, but not in the text — an index out of step)
            picked[item_id] = (count, chosen if every_match else chosen[:SNIPPETS])
    items = _shown_items(session, list(picked), filters)
    lines = _page_lines(session, [entry for _, chosen in picked.values() for entry, _, _ in chosen])
    words: dict[int, tuple[str, list[Any]]] = {}
    out = []
    for item_id, (count, chosen) in picked.items():
        item = items.get(item_id)
        if item is None:
            continue
        hits = []
        for entry, spans, differs in chosen:
            score = round(-scores[item_id][entry.id or 0], 4)
            for span_set in [[sp] for sp in spans] if every_match else [spans]:
                hits.append(
                    _hit(session, entry, item, span_set, score, lines, words, differs=differs, fuzzy=fuzzy)
                )
        out.append(
            ItemResult(
                item_id=item_id,
                reference_code=item.reference_code,
                title=item.title,
                kind=item.kind,
                score=round(-_item_score(found[item_id]), 4),
                hit_count=count,
                hits=hits,
                fuzzy=fuzzy,
            )
        )
    return out


def _own(entry: SearchEntry) -> int:
    """How many characters of the entry's text are its own (the rest: the overlap)."""
    return int((entry.pieces or {}).get("own", len(entry.text)))


def _shown_items(session: Session, ids: list[int], filters: Filters) -> dict[int, Item]:
    """The items, with the title and reference code their audience sees."""
    items = {i.id or 0: i for i in session.exec(select(Item).where(col(Item.id).in_(ids)))}
    if filters.audience == "public":  # the public's hits show the masked title, as their pages do
        from catalog.review.access import public_description

        for item_id, found in list(items.items()):
            shown = public_description(found, masks_for(session, item_id))
            items[item_id] = found.model_copy(
                update={"title": shown["title"], "reference_code": shown["reference_code"]}
            )
    return items


PageLines = dict[tuple[int, int], list[dict[str, Any]]]


def _page_lines(session: Session, entries: Iterable[SearchEntry]) -> PageLines:
    """The OCR lines of the pages these entries' pieces come from, by (item, page number)."""
    keys = {
        (e.item_id, int(piece[2]))
        for e in entries
        if e.field == "page"
        for piece in (e.pieces or {}).get("map", [])
    }
    if not keys:
        return {}
    out: PageLines = {}
    pairs = sorted(keys)
    for start in range(0, len(pairs), 200):
        # OR of pairs rather than a row-value IN, which SQLite answers with a full scan
        chunk = [and_(col(Page.item_id) == i, col(Page.page_no) == n) for i, n in pairs[start : start + 200]]
        query = select(Page.item_id, Page.page_no, Page.lines).where(or_(*chunk))
        out |= {(i, n): list(lines) for i, n, lines in session.exec(query)}
    return out


def _segment_words(
    session: Session, segment_id: int, cache: dict[int, tuple[str, list[Any]]]
) -> tuple[str, list[Any]]:
    """The text and word times of one segment (read once per search)."""
    if segment_id not in cache:
        row = session.exec(select(Segment.text, Segment.words).where(col(Segment.id) == segment_id)).first()
        cache[segment_id] = (row[0], list(row[1] or [])) if row else ("", [])
    return cache[segment_id]


def _hit(
    session: Session,
    entry: SearchEntry,
    item: Item,
    spans: list[tuple[int, int]],
    score: float,
    lines: PageLines,
    words: dict[int, tuple[str, list[Any]]],
    *,
    differs: set[int],
    fuzzy: bool,
) -> Hit:
    first = spans[0]
    location: dict[str, Any] = {}
    segment_id = None
    if entry.field == "page":
        boxes = _boxes(entry, first, lines)
        page = boxes[0]["page"] if boxes else entry.page_no
        location = {
            "page": page,
            "bbox": boxes[0]["bbox"] if boxes else None,
            "boxes": [b["bbox"] for b in boxes if b["page"] == page],  # on the page the match starts
        }
        if any(b["page"] != page for b in boxes):
            location["continues"] = [b for b in boxes if b["page"] != page]
    elif entry.field == "segment":
        covered = locate(entry.pieces, *first)
        segment_id = entry.segment_id
        start, end = float(entry.start or 0.0), float(entry.end or 0.0)
        if covered:
            (seg_id, seg_start, _), offset, _ = covered[0][0], covered[0][1], covered[0][2]
            segment_id, start = int(seg_id), float(seg_start)
            start = _word_start(_segment_words(session, segment_id, words), offset, start)
            end = float(covered[-1][0][2])
        location = {"start": round(start, 2), "end": round(end, 2)}
    return Hit(
        item_id=item.id or 0,
        reference_code=item.reference_code,
        title=item.title,
        kind=item.kind,
        # the entry's own text (and a match's end past it), not the next page's overlap
        snippet=snippet(entry.text[: max(_own(entry), spans[-1][1])], spans, differs=differs),
        location=location,
        field=entry.field,
        score=score,
        segment_id=segment_id,
        fuzzy=fuzzy and bool(differs),
    )


def _word_start(segment: tuple[str, list[Any]] | None, offset: int, default: float) -> float:
    """When the word holding character ``offset`` of the segment's text is spoken (the
    segment's start when its word times no longer fit its text, e.g. after an edit)."""
    if not segment:
        return default
    body, words = segment
    body = body.strip()
    cursor = 0
    for word in words:
        said = str(word.get("word", "")).strip()
        pos = body.find(said, cursor) if said else -1
        if pos < 0:
            return default
        cursor = pos + len(said)
        if offset < cursor:
            return float(word.get("start", default))
    return default


def _boxes(entry: SearchEntry, span: tuple[int, int], lines: PageLines) -> list[dict[str, Any]]:
    """One box per line the span covers (its words' box, or the line's): a match across a
    line end has two, one across a page break has one on each page."""
    out = []
    for (page_no, line_no), lo, hi in locate(entry.pieces, *span):
        page_lines = lines.get((entry.item_id, int(page_no)), [])
        if not 0 <= int(line_no) < len(page_lines):
            continue
        line = page_lines[int(line_no)]
        # the words' box (the index's text, the public's masked, keeps the line's offsets)
        box = enclosing(line_boxes(line, lo, hi))
        if box:
            out.append({"page": int(page_no), "bbox": [int(v) for v in box]})
    return out


def atom_spans(body: str, atom: Atom, view: tuple[str, list[int]] | None = None) -> list[tuple[int, int]]:
    """Character spans of ``body`` where ``atom`` occurs, read as the index reads (folded,
    a whitespace between CJK characters read through; a phrase's parts separated by
    nothing but spaces and punctuation). ``view``: ``reading_view(body)``, when known."""
    compact, kept = view or reading_view(body)
    p = atom.single
    if p is not None:
        spans, start = [], 0
        while (pos := compact.find(p.text, start)) >= 0:
            spans.append((kept[pos], kept[pos + len(p.text) - 1] + 1))
            start = pos + len(p.text)
        return spans
    pattern = r"[\W_]*".join(re.escape(part.text) for part in atom.parts)
    found = (m for m in re.finditer(pattern, compact) if m.end() > m.start())
    return [(kept[m.start()], kept[m.end() - 1] + 1) for m in found]


def match_spans(body: str, parts: list[QueryPart]) -> list[tuple[int, int]]:
    """Character spans of ``body`` where a query part occurs (normalization-insensitive)."""
    return _merged([sp for p in parts for sp in atom_spans(body, Atom((p,)))])


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, those that overlap or touch made one."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


_WIDE = CJK + "\u3000-\u303f\uff00-\uffef"  # with CJK punctuation and full-width forms
_BREAK = re.compile(rf"(?<=[{_WIDE}])((?:</?mark[^>]*>)*)\n((?:</?mark[^>]*>)*)(?=[{_WIDE}])")


def shown(snippet_html: str) -> str:
    """A snippet as a reader sees it: the line breaks of the running text read through
    between two CJK characters or punctuation marks (水土 / 流失 is 水土流失), a space
    elsewhere."""
    return _BREAK.sub(r"\1\2", snippet_html).replace("\n", " ")


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
