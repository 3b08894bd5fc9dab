"""IIIF Content Search: search within one item, answered as annotations on the regions of
its manifest's canvases — a page line's box (``#xywh=``) or a segment's time span (``#t=``).

Two answers from one search, because viewers differ: the Content Search API 2.0
(``SearchService2``; an ``AnnotationPage`` of ``highlighting`` annotations, each hit's text
in a ``contextualizing`` annotation with a ``TextQuoteSelector``), and the 1.0 form
(``sc:AnnotationList`` with ``resources`` and ``hits``), which Mirador 4.0 reads — it looks
for the ``search/1/search`` profile only. Both are advertised in the manifest's ``service``.

The search is the catalog's own (``catalog.search``) narrowed to the item, through the one
access policy: the public, and every viewer who sees masked text, search the public entries,
whose text has every screening hit that was not dismissed masked — a masked value is neither
found nor shown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from catalog.models import Item, Segment
from catalog.parts import recording_parts
from catalog.review.access import masks_text, sees_restricted
from catalog.search import Filters, entry_hits
from catalog.search.terms import join_cjk

SEARCH2_CONTEXT = "http://iiif.io/api/search/2/context.json"
SEARCH1_CONTEXT = "http://iiif.io/api/search/1/context.json"
SEARCH1_PROFILE = "http://iiif.io/api/search/1/search"
MAX_MATCHES = 200  # hits answered for one query within one item
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


@dataclass(frozen=True)
class Match:
    """One hit: the canvas region it lies on, and its text with what stands either side."""

    canvas: str  # the canvas id in the item's manifest
    fragment: str  # xywh=x,y,w,h or t=start,end
    exact: str
    prefix: str
    suffix: str


def services(search2: str, search1: str) -> list[dict[str, Any]]:
    """The manifest's ``service`` entries (the 1.0 one in the form older services keep)."""
    return [
        {"id": search2, "type": "SearchService2"},
        {"@id": search1, "@type": "SearchService1", "profile": SEARCH1_PROFILE},
    ]


def _quote(snippet: str) -> tuple[str, str, str]:
    """(prefix, exact, suffix) of a search snippet whose first match is in ``<mark>``."""
    found = _MARK.search(snippet)
    if not found:
        return "", html.unescape(snippet), ""
    before, after = snippet[: found.start()], _MARK.sub(r"\1", snippet[found.end() :])
    # the context is the match's own line (a page is indexed as running text); a match
    # across a line end is quoted as read: CJK joined, Latin words with a space
    prefix = html.unescape(before).lstrip("…").rsplit("\n", 1)[-1]
    suffix = html.unescape(after).rstrip("…").split("\n", 1)[0]
    return prefix, join_cjk(html.unescape(found[1])).replace("\n", " "), suffix


def matches(session: Session, item: Item, query: str, role: str | None, manifest: str) -> list[Match]:
    """The hits of ``query`` within ``item`` for a viewer of ``role`` (raises BadInputError
    for a query with nothing to search for), each placed on its canvas of ``manifest``."""
    masked = masks_text(role)
    filters = Filters(
        item_id=item.id,
        include_restricted=sees_restricted(role),
        audience="public" if masked else "staff",
    )
    hits = entry_hits(session, query, filters=filters, limit=MAX_MATCHES)
    parts = {p.transcript.id: p.number for p in recording_parts(session, item.id or 0)}
    segment_ids = [h.segment_id for h in hits if h.segment_id is not None]
    segments = (
        {s.id: s for s in session.exec(select(Segment).where(Segment.id.in_(segment_ids)))}  # type: ignore[union-attr]
        if segment_ids
        else {}
    )
    found: list[Match] = []
    for hit in hits:
        prefix, exact, suffix = _quote(hit.snippet)
        if hit.field == "page" and hit.location.get("bbox"):
            # a match across a line end is highlighted on both lines (and on the next page)
            regions = [
                (hit.location["page"], box) for box in hit.location.get("boxes") or [hit.location["bbox"]]
            ]
            regions += [(b["page"], b["bbox"]) for b in hit.location.get("continues", [])]
            for page, (x0, y0, x1, y1) in regions:
                canvas = f"{manifest}/canvas/p{page}"
                found.append(Match(canvas, f"xywh={x0},{y0},{x1 - x0},{y1 - y0}", exact, prefix, suffix))
        elif hit.field == "segment" and hit.segment_id in segments:
            seg = segments[hit.segment_id]
            number = parts.get(seg.transcript_id)
            if number is not None:
                canvas = f"{manifest}/canvas/a{number}"
                start, end = hit.location.get("start", seg.start), hit.location.get("end", seg.end)
                found.append(Match(canvas, f"t={start:.2f},{end:.2f}", exact, prefix, suffix))
        # a hit in the description has no region on a canvas: the manifest's label holds it
    return found


def answer2(request_id: str, base: str, manifest: str, found: list[Match]) -> dict[str, Any]:
    """The Content Search API 2.0 answer: ``highlighting`` annotations on the canvases, and
    the text of each in a ``contextualizing`` annotation."""
    items, contexts = [], []
    for n, m in enumerate(found, 1):
        anno = f"{base}/anno/{n}"
        items.append(
            {
                "id": anno,
                "type": "Annotation",
                "motivation": "highlighting",
                "target": {
                    "type": "SpecificResource",
                    "source": {
                        "id": m.canvas,
                        "type": "Canvas",
                        "partOf": [{"id": manifest, "type": "Manifest"}],
                    },
                    "selector": [
                        {
                            "type": "FragmentSelector",
                            "conformsTo": "http://www.w3.org/TR/media-frags/",
                            "value": m.fragment,
                        }
                    ],
                },
            }
        )
        contexts.append(
            {
                "id": f"{base}/match/{n}",
                "type": "Annotation",
                "motivation": "contextualizing",
                "target": {
                    "type": "SpecificResource",
                    "source": {"id": anno, "type": "Annotation"},
                    "selector": [
                        {
                            "type": "TextQuoteSelector",
                            "prefix": m.prefix,
                            "exact": m.exact,
                            "suffix": m.suffix,
                        }
                    ],
                },
            }
        )
    page: dict[str, Any] = {
        "@context": SEARCH2_CONTEXT,
        "id": request_id,
        "type": "AnnotationPage",
        "items": items,
    }
    if contexts:
        page["annotations"] = [{"type": "AnnotationPage", "items": contexts}]
    return page


def answer1(request_id: str, base: str, found: list[Match]) -> dict[str, Any]:
    """The Content Search API 1.0 answer (what Mirador 4.0 reads)."""
    resources, hits = [], []
    for n, m in enumerate(found, 1):
        anno = f"{base}/anno/{n}"
        resources.append(
            {
                "@id": anno,
                "@type": "oa:Annotation",
                "motivation": "sc:painting",
                "resource": {"@type": "cnt:ContentAsText", "chars": m.exact},
                "on": f"{m.canvas}#{m.fragment}",
            }
        )
        hits.append(
            {
                "@type": "search:Hit",
                "annotations": [anno],
                "match": m.exact,
                "before": m.prefix,
                "after": m.suffix,
            }
        )
    return {
        "@context": [SEARCH1_CONTEXT],
        "@id": request_id,
        "@type": "sc:AnnotationList",
        "within": {"@type": "sc:Layer", "total": len(found)},
        "resources": resources,
        "hits": hits,
    }
