"""OAI-PMH 2.0 at /oai (GET or POST, no login): the open catalog for harvesters, through
the one access policy (catalog.publish.oai). The richer format's schema is served beside it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from catalog.publish import oai
from web.deps import DbSession, settings_of

router = APIRouter()
SCHEMAS = Path(__file__).resolve().parents[2] / "catalog" / "publish" / "schemas"
MAX_FORM = 64 * 1024  # an OAI-PMH request is a few short arguments


def repository(request: Request) -> oai.Repository:
    settings = settings_of(request)
    base = str(request.url_for("oai_endpoint"))
    return oai.Repository(
        name=settings.oai.repository_name,
        base_url=base,
        identifier=settings.oai.repository_identifier,
        admin_email=settings.oai.admin_email,
        secret=settings.secret.encode(),
        item_url=lambda item_id: str(request.url_for("public_item", item_id=item_id)),
    )


@router.api_route("/oai", methods=["GET", "POST"], name="oai_endpoint")
async def oai_endpoint(request: Request, db: DbSession) -> Response:
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await request.body()
        if len(body) > MAX_FORM:
            params = [("verb", "")]  # answered as badVerb: no OAI-PMH request is this large
        else:
            from urllib.parse import parse_qsl

            params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    xml = await run_in_threadpool(oai.respond, db, repository(request), params)
    return Response(xml, media_type="text/xml; charset=utf-8")


@router.get("/oai/schemas/lantai-dat.xsd", name="oai_schema")
def oai_schema() -> Response:
    return Response((SCHEMAS / "lantai-dat.xsd").read_bytes(), media_type="application/xml")
