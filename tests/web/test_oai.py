"""The OAI-PMH provider, harvested by a real OAI-PMH client (Sickle) and validated against
the OAI-PMH and Dublin Core XML schemas shipped in catalog/publish/schemas."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from sickle import Sickle
from sickle.oaiexceptions import BadResumptionToken, IdDoesNotExist, NoRecordsMatch
from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Access, Collection, Flag, Item, ItemStatus
from catalog.publish import oai
from catalog.review.openreview import decide_access
from catalog.search import reindex_item
from configs import get_settings
from tests.web.conftest import ID_NUMBER, XSS, Browser, Seeded

SCHEMAS = Path(__file__).resolve().parents[2] / "catalog" / "publish" / "schemas"
MANY = 230  # more than two pages of PAGE_SIZE


@pytest.fixture
def catalog(seeded: Seeded) -> dict[str, int]:
    """The seeded items, plus MANY open items in a second collection, one open item whose
    description holds a confirmed screening hit, one item opened by review and then closed,
    and one that was never open."""
    with Session(get_engine(get_settings().db_url)) as s:
        coll = Collection(code="BIG", name="大全宗 & <co>")
        s.add(coll)
        s.flush()

        def item(code: str, title: str, access: str) -> Item:
            return Item(collection_id=coll.id or 0, reference_code=code, title=title, kind="scan",
                        status=ItemStatus.enriched, access=access, date="20200101")  # fmt: skip

        for n in range(MANY):
            s.add(item(f"J002-WS·2020·Y-{n:04d}", f"档案 {n}", Access.open))
        secret = item("J002-WS·2020·Y-9001", f"身份证 {ID_NUMBER} {XSS}", Access.open)
        withdrawn = item("J002-WS·2020·Y-9002", "后来收回", Access.unreviewed)
        never = item("J002-WS·2020·Y-9003", "从未开放 绝密", Access.controlled)
        s.add_all([secret, withdrawn, never])
        s.flush()
        s.add(Flag(item_id=secret.id or 0, kind="pii", category="id_number", status="confirmed",
                   detail={"value": ID_NUMBER, "field": "title"}))  # fmt: skip
        decide_access(
            s, item_id=withdrawn.id or 0, access=Access.open, reason="审核通过", reviewer="ed", rounds=1
        )
        decide_access(
            s, item_id=withdrawn.id or 0, access=Access.controlled, reason="收回", reviewer="ed", rounds=1
        )
        for item in s.exec(select(Item)).all():
            reindex_item(s, item)
        s.commit()
        return {"secret": secret.id or 0, "withdrawn": withdrawn.id or 0, "never": never.id or 0}


def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(
        str(SCHEMAS / "OAI-PMH.xsd"),
        locations=[
            (oai.OAI_DC_NS, str(SCHEMAS / "oai_dc.xsd")),
            (oai.DAT_NS, str(SCHEMAS / "lantai-dat.xsd")),
        ],
    )


def test_sickle_harvests_the_open_catalog_through_resumption_tokens(
    live_server: str, catalog: dict[str, int], seeded: Seeded
) -> None:
    sickle = Sickle(f"{live_server}/oai", max_retries=0, timeout=30)
    identify = sickle.Identify()
    assert identify.protocolVersion == "2.0" and identify.deletedRecord == "persistent"
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    ids = {r.header.identifier for r in records}
    prefix = f"oai:{get_settings().oai.repository_identifier}:"
    open_ids = {seeded.recording, seeded.scan, catalog["secret"]}
    assert len(records) == len(ids) == MANY + len(open_ids) + 1  # every open item once, one deleted
    assert {prefix + str(i) for i in open_ids} <= ids
    assert prefix + str(seeded.closed) not in ids and prefix + str(catalog["never"]) not in ids
    deleted = [r for r in records if r.header.deleted]
    assert [r.header.identifier for r in deleted] == [prefix + str(catalog["withdrawn"])]
    secret = next(r for r in records if r.header.identifier == prefix + str(catalog["secret"]))
    assert ID_NUMBER not in secret.raw and "█" in secret.metadata["title"][0]
    assert XSS in secret.metadata["title"][0]  # text, escaped in the XML, read back intact
    assert any(v.startswith(f"{live_server}/public/items/") for v in secret.metadata["identifier"])
    headers = list(sickle.ListIdentifiers(metadataPrefix="lantai_dat", ignore_deleted=False))
    assert len(headers) == len(records)
    big = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="BIG"))
    assert len(big) == MANY + 2 and sum(h.deleted for h in big) == 1  # open ones, the deleted one
    assert {s.setSpec for s in sickle.ListSets()} == {"ORAL", "BIG"}
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier=prefix + str(catalog["never"]), metadataPrefix="oai_dc")
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier=prefix + str(seeded.closed), metadataPrefix="oai_dc")
    with pytest.raises(BadResumptionToken):
        list(sickle.ListRecords(resumptionToken="forged.0000"))
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    with pytest.raises(NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": future}))


def test_every_response_validates_against_the_schemas(client: Browser, catalog: dict[str, int]) -> None:
    schema = _schema()
    prefix = f"oai:{get_settings().oai.repository_identifier}:"
    queries = [
        "verb=Identify",
        "verb=ListMetadataFormats",
        f"verb=ListMetadataFormats&identifier={prefix}{catalog['secret']}",
        "verb=ListSets",
        "verb=ListRecords&metadataPrefix=oai_dc",
        "verb=ListRecords&metadataPrefix=lantai_dat&set=BIG",
        "verb=ListIdentifiers&metadataPrefix=oai_dc&from=2000-01-01&until=2999-12-31",
        f"verb=GetRecord&metadataPrefix=lantai_dat&identifier={prefix}{catalog['secret']}",
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier={prefix}{catalog['withdrawn']}",
        # errors
        "verb=Nonsense",
        "",
        "verb=ListRecords",
        "verb=ListRecords&metadataPrefix=marc21",
        "verb=ListRecords&metadataPrefix=oai_dc&from=yesterday",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2019-01-01T00:00:00Z",
        "verb=ListRecords&resumptionToken=abc&metadataPrefix=oai_dc",
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier={prefix}{catalog['never']}",
        "verb=Identify&verb=Identify",
    ]
    codes = []
    for query in queries:
        response = client.get(f"/oai?{query}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
        schema.validate(response.content)  # raises with the reason when invalid
        codes += re.findall(r'<error code="(\w+)"', response.text)
    assert codes == ["badVerb", "badVerb", "badArgument", "cannotDisseminateFormat", "badArgument",
                     "badArgument", "badArgument", "idDoesNotExist", "badVerb"]  # fmt: skip
    # the next pages, by token, validate too; POST is answered like GET
    first = client.get("/oai?verb=ListRecords&metadataPrefix=lantai_dat").text
    token = ET.fromstring(first).find(f".//{{{oai.NS}}}resumptionToken")
    assert token is not None and token.text and token.get("cursor") == "0"
    second = client.post("/oai", data={"verb": "ListRecords", "resumptionToken": token.text})
    schema.validate(second.content)
    assert 'cursor="100"' in second.text
    assert "绝密" not in first + second.text and "从未开放" not in first + second.text


def test_a_closed_record_becomes_deleted_for_the_next_incremental_harvest(
    client: Browser, catalog: dict[str, int], seeded: Seeded
) -> None:
    time.sleep(1.1)  # datestamps are to the second: the seeded items are all older than `since`
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
    with Session(get_engine(get_settings().db_url)) as s:
        decide_access(
            s, item_id=seeded.scan, access=Access.controlled, reason="复查", reviewer="ed", rounds=1
        )
        s.commit()
    page = client.get(f"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&from={since}").text
    headers = ET.fromstring(page).findall(f".//{{{oai.NS}}}header")
    assert [
        (h.get("status"), h.findtext(f"{{{oai.NS}}}identifier", "").rsplit(":", 1)[1]) for h in headers
    ] == [("deleted", str(seeded.scan))]
