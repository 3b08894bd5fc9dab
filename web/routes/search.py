"""The staff search page and its JSON API. Items that are not open are searched only for
roles that may see them (see ``catalog.review.access``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from catalog.crud import collection_codes
from catalog.publish import union
from catalog.search import MAX_QUERY, FacetCounts, Filters, search_with_facets
from configs.errors import BadInputError
from web.deps import DbSession, Staff, Viewer, render

router = APIRouter()


@dataclass
class FilterParams:
    """The search filters as query parameters (shared by the page and the API)."""

    collection: str = Query("", max_length=64)
    kind: str = Query("", pattern=r"^(scan|recording|other)?$")
    year_from: int | None = Query(None, ge=0, le=9999)
    year_to: int | None = Query(None, ge=0, le=9999)
    language: str = Query("", max_length=64)
    status: str = Query("", max_length=16)
    access: str = Query("", max_length=8)

    def filters(self, viewer: Viewer) -> Filters:
        clean = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        return Filters(include_restricted=viewer.sees_restricted, **clean)


Params = Annotated[FilterParams, Depends()]


def deep_link(hit: dict[str, Any]) -> str:
    loc = hit.get("location") or {}
    if "page" in loc:
        box = ",".join(str(v) for v in loc["bbox"]) if loc.get("bbox") else ""
        return f"/items/{hit['item_id']}/pages/{loc['page']}" + (f"?box={box}" if box else "")
    if "start" in loc:
        part = f"segment={hit['segment_id']}&" if hit.get("segment_id") else ""  # names the part
        return f"/items/{hit['item_id']}/recording?{part}t={loc['start']}"
    return f"/items/{hit['item_id']}"


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: DbSession,
    viewer: Staff,
    params: Params,
    q: str = Query("", max_length=MAX_QUERY),
    fuzzy: bool = False,
) -> Response:
    filters = params.filters(viewer)
    hits: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = FacetCounts()
    error = ""
    if q.strip():
        try:
            found, counts = search_with_facets(db, q, filters=filters, limit=50, fuzzy=fuzzy)
            hits = [h.as_json() for h in found]
        except BadInputError as e:
            error = str(e)
    for h in hits:
        h["link"] = deep_link(h)
    others: list[dict[str, Any]] = []  # 其他档案馆: the union catalog (lantai harvest)
    if q.strip() and not error:
        others = [h.as_json() for h in union.search(db, q, limit=20)]
    chosen = {k: ("" if v is None else v) for k, v in asdict(params).items()}
    return render(
        request,
        "search.html",
        q=q,
        hits=hits,
        facets={name: _facet_links(q, chosen, name, values) for name, values in counts.items()},
        facets_capped=getattr(counts, "capped", False),
        error=error,
        collections=collection_codes(db),
        chosen=chosen,
        others=others,
        fuzzy=fuzzy,
    )


def _facet_links(
    q: str, chosen: dict[str, Any], name: str, values: dict[str, int]
) -> list[tuple[str, int, str]]:
    """(value, count, URL narrowing the search to it) for one facet."""
    out = []
    for value, n in values.items():
        params = {k: v for k, v in chosen.items() if v not in ("", None)} | {"q": q}
        if name == "year":
            params |= {"year_from": value, "year_to": value}
        else:
            params[name] = value
        out.append((value, n, "/search?" + urlencode(params)))
    return out


@router.get("/api/search")
def api_search(
    db: DbSession,
    viewer: Staff,
    params: Params,
    q: str = Query(..., max_length=MAX_QUERY),
    limit: int = Query(20, ge=1, le=200),
    fuzzy: bool = False,
) -> dict[str, Any]:
    """``{"hits": [...], "facets": {...}}``; each hit has the ``search --json`` shape."""
    filters = params.filters(viewer)
    found, counts = search_with_facets(db, q, filters=filters, limit=limit, fuzzy=fuzzy)
    hits = [h.as_json() | {"link": ""} for h in found]
    for h in hits:
        h["link"] = deep_link(h)
    return {"hits": hits, "facets": counts, "facets_capped": counts.capped}
