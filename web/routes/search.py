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
from catalog.search import MAX_QUERY, FacetCounts, Filters, Results, search_items
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


def deep_link(item_id: int, hit: dict[str, Any]) -> str:
    """Where a hit opens: the page with the match's boxes (every line it covers), the
    recording at the first word, or the item."""
    loc = hit.get("location") or {}
    if "page" in loc:
        boxes = loc.get("boxes") or ([loc["bbox"]] if loc.get("bbox") else [])
        box = ";".join(",".join(str(v) for v in b) for b in boxes)
        return f"/items/{item_id}/pages/{loc['page']}" + (f"?box={box}" if box else "")
    if "start" in loc:
        part = f"segment={hit['segment_id']}&" if hit.get("segment_id") else ""  # names the part
        return f"/items/{item_id}/recording?{part}t={loc['start']}"
    return f"/items/{item_id}"


PER_PAGE = 20  # results per page of the search page


def linked(results: Results) -> list[dict[str, Any]]:
    """The results as the page and the API show them: each hit with its deep link, each
    item with the link of its best hit."""
    out = []
    for result in results.items:
        item = result.as_json()
        for h in item["hits"]:
            h["link"] = deep_link(result.item_id, h)
        item["link"] = item["hits"][0]["link"] if item["hits"] else f"/items/{result.item_id}"
        out.append(item)
    return out


def pages_of(results: Results, per_page: int) -> dict[str, Any]:
    """Which page of results this is, and whether there are others."""
    number = results.offset // per_page + 1
    return {"number": number, "prev": number > 1, "next": results.offset + per_page < results.total}


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: DbSession,
    viewer: Staff,
    params: Params,
    q: str = Query("", max_length=MAX_QUERY),
    fuzzy: bool = False,
    page: int = Query(1, ge=1, le=500),
) -> Response:
    filters = params.filters(viewer)
    items: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = FacetCounts()
    error = ""
    total, paging = 0, {"number": 1, "prev": False, "next": False}
    if q.strip():
        try:
            found = search_items(
                db, q, filters=filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, fuzzy=fuzzy
            )
            items, counts, total, paging = linked(found), found.facets, found.total, pages_of(found, PER_PAGE)
        except BadInputError as e:
            error = str(e)
    others: list[dict[str, Any]] = []  # 其他档案馆: the union catalog (lantai harvest)
    if q.strip() and not error and page == 1:
        others = [h.as_json() for h in union.search(db, q, limit=20)]
    chosen = {k: ("" if v is None else v) for k, v in asdict(params).items()}
    here = (
        {k: v for k, v in chosen.items() if v not in ("", None)}
        | {"q": q}
        | ({"fuzzy": "true"} if fuzzy else {})
    )
    return render(
        request,
        "search.html",
        q=q,
        items=items,
        total=total,
        paging=paging,
        page_link=lambda n: "/search?" + urlencode(here | {"page": n}),
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
    offset: int = Query(0, ge=0, le=10_000),
    fuzzy: bool = False,
) -> dict[str, Any]:
    """``{"hits": [...], "total": n, "facets": {...}}``: one object per item in the
    ``search --json`` shape (its best hit's snippet and location, and its ``hits``), with
    deep links; ``offset`` pages through ``total``."""
    filters = params.filters(viewer)
    found = search_items(db, q, filters=filters, limit=limit, offset=offset, fuzzy=fuzzy)
    return {
        "hits": linked(found),
        "total": found.total,
        "offset": offset,
        "facets": found.facets,
        "facets_capped": found.capped,
    }
