"""OAI-PMH 2.0 data provider: what the public site may show, for harvesting by other
archives and libraries (AtoM, ArchivesSpace, DSpace, another Lantai).

Records are the open (开放) items, each described by its public, masked fields only — the
same access policy as the public pages (:mod:`catalog.review.access`). An item that was open and
is no longer (closed, deferred, sent back to review) is a *deleted* record (``persistent``
support): its identifier and datestamp stay, with no metadata, so harvesters drop it. An
item that was never open is not there at all, not even as an identifier.

Formats: ``oai_dc`` (simple Dublin Core) and ``lantai_dat`` (the DA/T 18 / DA/T 59 public
fields, schema in ``catalog/publish/schemas/lantai-dat.xsd``). Sets: one per collection holding
open or withdrawn records. Datestamps are the item's last change (UTC, seconds); lists
page through ``PAGE_SIZE`` records with signed, stateless resumption tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from catalog import fields
from catalog.models import Access, AccessDecision, Collection, Item, WithdrawnRecord
from catalog.publish.exports import DC_NS, DC_TYPE, OAI_DC_NS, _iso_date
from catalog.review.access import public_description
from catalog.review.redaction import masks_for
from configs.digest import equal_secrets

NS = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DAT_NS = "urn:lantai:dat:1.0"
PAGE_SIZE = 100
TOKEN_DAYS = 7
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS),
    "lantai_dat": ("{base}/schemas/lantai-dat.xsd", DAT_NS),
}
DAT_FIELDS = tuple((name, fields.LABELS_ZH[name]) for name in fields.PUBLIC)  # DA/T 18 / DA/T 59
SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not XML 1.0 characters

for prefix, uri in (("", NS), ("xsi", XSI), ("oai_dc", OAI_DC_NS), ("dc", DC_NS), ("dat", DAT_NS)):
    ET.register_namespace(prefix, uri)


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Repository:
    name: str
    base_url: str  # this endpoint, e.g. https://archive.example/oai
    identifier: str  # the namespace of record identifiers: oai:<identifier>:<item id>
    admin_email: str
    secret: bytes  # signs resumption tokens
    item_url: Callable[[int], str]  # an open item's public page


def _clean(text: str) -> str:
    return _BAD_XML.sub("", text)


def _stamp(when: datetime | None) -> str:
    """UTC, to the second (stored times without a zone are UTC)."""
    when = when or datetime(1970, 1, 1, tzinfo=UTC)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(value: str, *, end: bool) -> datetime:
    """A protocol datestamp as a UTC instant; with ``end``, the last instant it covers
    (``until=2026-01-01`` includes the whole day). Any date of years 0001-9999 is read,
    ``9999-12-31`` included (its end is the last representable instant, not an overflow)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return _last_instant(day, timedelta(days=1)) if end else day
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value, re.ASCII):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return _last_instant(moment, timedelta(seconds=1)) if end else moment
    except ValueError:
        pass
    raise OaiError("badArgument", f"not a UTC datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ): {value!r}")


def _last_instant(start: datetime, length: timedelta) -> datetime:
    try:
        return start + length - timedelta(microseconds=1)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def set_spec(coll: Collection) -> str:
    return coll.code if SET_SPEC.match(coll.code) else f"collection-{coll.id}"


# ---------------------------------------------------------------- which records exist


def _was_open() -> Any:
    """Withdrawn since the record was kept, or opened by a review decision before that."""
    return or_(
        exists().where(col(WithdrawnRecord.item_id) == col(Item.id)),
        exists().where(
            col(AccessDecision.item_id) == col(Item.id),
            col(AccessDecision.access) == Access.open,
            col(AccessDecision.effective),
        ),
    )


def _harvestable() -> Any:
    """Open items, and items that were open (their deleted records)."""
    return or_(col(Item.access) == Access.open, _was_open())


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _records_query(session: Session, args: dict[str, str], after: int) -> Any:
    query = select(Item).where(_harvestable(), col(Item.id) > after)
    if args.get("set"):
        coll = _collection_for(session, args["set"])
        query = query.where(Item.collection_id == coll.id)
    if args.get("from"):
        query = query.where(col(Item.updated_at) >= _utc(_parse_stamp(args["from"], end=False)))
    if args.get("until"):
        query = query.where(col(Item.updated_at) <= _utc(_parse_stamp(args["until"], end=True)))
    return query.order_by(col(Item.id))


def _collection_for(session: Session, spec: str) -> Collection:
    for coll in session.exec(select(Collection)).all():
        if set_spec(coll) == spec:
            return coll
    raise OaiError("noRecordsMatch", f"no records in set {spec!r}")


def _identifier(repo: Repository, item: Item) -> str:
    return f"oai:{repo.identifier}:{item.id}"


def _item_for(session: Session, repo: Repository, identifier: str) -> Item:
    prefix = f"oai:{repo.identifier}:"
    item = None
    if identifier.startswith(prefix) and identifier[len(prefix) :].isdigit():
        item = session.exec(
            select(Item).where(Item.id == int(identifier[len(prefix) :]), _harvestable())
        ).first()
    if item is None:  # the same answer for an item that does not exist and one never open
        raise OaiError("idDoesNotExist", f"no record {identifier!r}")
    return item


# ---------------------------------------------------------------- metadata


def _dc(session: Session, repo: Repository, item: Item, parent: ET.Element) -> None:
    desc = public_description(item, masks_for(session, item.id or 0))
    root = ET.SubElement(parent, f"{{{OAI_DC_NS}}}dc")
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC_NS} {FORMATS['oai_dc'][0]}")

    def add(name: str, value: str) -> None:
        if value and value.strip():
            ET.SubElement(root, f"{{{DC_NS}}}{name}").text = _clean(value.strip())

    add("title", desc["title"])
    add("creator", desc["narrator"] or desc["creator"])
    if desc["narrator"] and desc["creator"] and desc["creator"] != desc["narrator"]:
        add("creator", desc["creator"])
    add("contributor", desc["interviewer"])
    for field in ("subject", "people"):
        for value in desc[field].replace("；", ";").split(";"):
            add("subject", value)
    add("description", desc["abstract"])
    add("date", _iso_date(item.date) if desc["date"] == item.date else desc["date"])
    add("type", DC_TYPE.get(item.kind, "Dataset"))
    add("format", desc["extent"])
    add("identifier", desc["reference_code"])
    add("identifier", repo.item_url(item.id or 0))
    add("language", desc["language"])
    add("coverage", desc["place"] or desc["collected_place"])
    add("rights", "开放 (open)")


def _dat(session: Session, repo: Repository, item: Item, parent: ET.Element) -> None:
    desc = public_description(item, masks_for(session, item.id or 0))
    coll = session.get(Collection, item.collection_id)
    root = ET.SubElement(parent, f"{{{DAT_NS}}}record")
    root.set(f"{{{XSI}}}schemaLocation", f"{DAT_NS} {FORMATS['lantai_dat'][0].format(base=repo.base_url)}")
    ET.SubElement(root, f"{{{DAT_NS}}}kind").text = item.kind
    if coll is not None:
        ET.SubElement(root, f"{{{DAT_NS}}}collection", code=_clean(coll.code)).text = _clean(coll.name)
    ET.SubElement(root, f"{{{DAT_NS}}}url").text = repo.item_url(item.id or 0)
    for field, label in DAT_FIELDS:
        if desc.get(field, "").strip():
            ET.SubElement(root, f"{{{DAT_NS}}}{field}", label=label).text = _clean(desc[field].strip())


WRITERS = {"oai_dc": _dc, "lantai_dat": _dat}


def _header(session: Session, repo: Repository, item: Item, parent: ET.Element, sets: dict[int, str]) -> None:
    header = ET.SubElement(parent, f"{{{NS}}}header")
    if item.access != Access.open:
        header.set("status", "deleted")
    ET.SubElement(header, f"{{{NS}}}identifier").text = _identifier(repo, item)
    ET.SubElement(header, f"{{{NS}}}datestamp").text = _stamp(item.updated_at)
    if item.collection_id not in sets:
        coll = session.get(Collection, item.collection_id)
        sets[item.collection_id] = set_spec(coll) if coll else ""
    if sets[item.collection_id]:
        ET.SubElement(header, f"{{{NS}}}setSpec").text = sets[item.collection_id]


def _record(
    session: Session, repo: Repository, item: Item, prefix: str, parent: ET.Element, sets: dict[int, str]
) -> None:
    record = ET.SubElement(parent, f"{{{NS}}}record")
    _header(session, repo, item, record, sets)
    if item.access == Access.open:
        WRITERS[prefix](session, repo, item, ET.SubElement(record, f"{{{NS}}}metadata"))


# ---------------------------------------------------------------- resumption tokens


def _sign(repo: Repository, payload: bytes) -> str:
    return hmac.new(repo.secret, payload, hashlib.sha256).hexdigest()[:32]


def _token(repo: Repository, state: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(repo, payload.encode())}"


def _read_token(repo: Repository, token: str, verb: str) -> dict[str, Any]:
    payload, _, signature = token.partition(".")
    if not payload or not equal_secrets(_sign(repo, payload.encode()), signature):
        raise OaiError("badResumptionToken", "the resumption token is not one this repository issued")
    try:
        state: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError as e:
        raise OaiError("badResumptionToken", "the resumption token cannot be read") from e
    if state.get("verb") != verb:
        raise OaiError("badResumptionToken", f"the resumption token is not one of {verb}")
    if datetime.fromisoformat(state["expires"]) < datetime.now(UTC):
        raise OaiError("badResumptionToken", "the resumption token has expired: start the list again")
    return state


# ---------------------------------------------------------------- verbs

ARGS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}


def respond(session: Session, repo: Repository, params: list[tuple[str, str]]) -> bytes:
    """The OAI-PMH response document for these request parameters (errors included)."""
    root = ET.Element(f"{{{NS}}}OAI-PMH")
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    ET.SubElement(root, f"{{{NS}}}responseDate").text = _stamp(datetime.now(UTC))
    request = ET.SubElement(root, f"{{{NS}}}request")
    request.text = repo.base_url
    try:
        args = _arguments(params)
        verb = args.pop("verb")
        for name, value in args.items():
            request.set(name, _clean(value))  # never echo what XML cannot carry
        request.set("verb", verb)
        body = ET.SubElement(root, f"{{{NS}}}{verb}")
        VERBS[verb](session, repo, args, body)
    except OaiError as e:
        for child in list(root)[2:]:
            root.remove(child)
        if e.code in ("badVerb", "badArgument"):
            request.attrib.clear()  # the request element echoes only valid requests
        ET.SubElement(root, f"{{{NS}}}error", code=e.code).text = _clean(e.message)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _arguments(params: list[tuple[str, str]]) -> dict[str, str]:
    args: dict[str, str] = {}
    for name, value in params:
        if name in args:
            raise OaiError("badArgument" if name != "verb" else "badVerb", f"{name} given more than once")
        args[name] = value
    verb = args.get("verb", "")
    if verb not in ARGS:
        raise OaiError("badVerb", f"not an OAI-PMH verb: {verb!r}" if verb else "no verb")
    required, optional = ARGS[verb]
    given = set(args) - {"verb"}
    if "resumptionToken" in given and given != {"resumptionToken"}:
        raise OaiError("badArgument", "resumptionToken is an exclusive argument")
    if "resumptionToken" not in given and (missing := required - given):
        raise OaiError("badArgument", f"missing {', '.join(sorted(missing))}")
    if unknown := given - required - optional:
        raise OaiError("badArgument", f"not an argument of {verb}: {', '.join(sorted(unknown))}")
    return args


def _identify(session: Session, repo: Repository, args: dict[str, str], body: ET.Element) -> None:
    earliest = session.exec(select(func.min(Item.updated_at)).where(_harvestable())).first()
    for name, value in (
        ("repositoryName", repo.name),
        ("baseURL", repo.base_url),
        ("protocolVersion", "2.0"),
        ("adminEmail", repo.admin_email),
        ("earliestDatestamp", _stamp(earliest or datetime.now(UTC))),
        ("deletedRecord", "persistent"),
        ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
    ):
        ET.SubElement(body, f"{{{NS}}}{name}").text = _clean(value)


def _formats(session: Session, repo: Repository, args: dict[str, str], body: ET.Element) -> None:
    if "identifier" in args:
        _item_for(session, repo, args["identifier"])
    for prefix, (schema, namespace) in FORMATS.items():
        fmt = ET.SubElement(body, f"{{{NS}}}metadataFormat")
        ET.SubElement(fmt, f"{{{NS}}}metadataPrefix").text = prefix
        ET.SubElement(fmt, f"{{{NS}}}schema").text = schema.format(base=repo.base_url)
        ET.SubElement(fmt, f"{{{NS}}}metadataNamespace").text = namespace


def _sets(session: Session, repo: Repository, args: dict[str, str], body: ET.Element) -> None:
    if "resumptionToken" in args:
        _read_token(repo, args["resumptionToken"], "ListSets")  # sets fit in one response
    holding = select(Item.collection_id).where(_harvestable()).distinct()
    colls = session.exec(
        select(Collection).where(col(Collection.id).in_(holding)).order_by(col(Collection.id))
    ).all()
    if not colls:
        raise OaiError("noSetHierarchy", "no collection holds harvestable records")
    for coll in colls:
        entry = ET.SubElement(body, f"{{{NS}}}set")
        ET.SubElement(entry, f"{{{NS}}}setSpec").text = set_spec(coll)
        ET.SubElement(entry, f"{{{NS}}}setName").text = _clean(coll.name or coll.code)


def _get_record(session: Session, repo: Repository, args: dict[str, str], body: ET.Element) -> None:
    prefix = args["metadataPrefix"]
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"no metadata format {prefix!r}")
    _record(session, repo, _item_for(session, repo, args["identifier"]), prefix, body, {})


def _list(
    session: Session, repo: Repository, args: dict[str, str], body: ET.Element, *, records: bool
) -> None:
    verb = "ListRecords" if records else "ListIdentifiers"
    after, cursor = 0, 0
    if "resumptionToken" in args:
        state = _read_token(repo, args["resumptionToken"], verb)
        args, after, cursor = state["args"], state["after"], state["cursor"]
    prefix = args["metadataPrefix"]
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"no metadata format {prefix!r}")
    if args.get("from") and args.get("until"):
        if len(args["from"]) != len(args["until"]):
            raise OaiError("badArgument", "from and until must have the same granularity")
        if _parse_stamp(args["from"], end=False) > _parse_stamp(args["until"], end=True):
            raise OaiError("badArgument", "from is later than until")
    items = session.exec(_records_query(session, args, after).limit(PAGE_SIZE + 1)).all()
    if not items:
        if cursor:  # the list ended exactly at the previous page
            ET.SubElement(body, f"{{{NS}}}resumptionToken", cursor=str(cursor))
            return
        raise OaiError("noRecordsMatch", "no records match these arguments")
    sets: dict[int, str] = {}
    for item in items[:PAGE_SIZE]:
        if records:
            _record(session, repo, item, prefix, body, sets)
        else:
            _header(session, repo, item, body, sets)
    if len(items) > PAGE_SIZE:
        expires = datetime.now(UTC) + timedelta(days=TOKEN_DAYS)
        state = {"verb": verb, "args": args, "after": items[PAGE_SIZE - 1].id, "cursor": cursor + PAGE_SIZE,
                 "expires": expires.isoformat()}  # fmt: skip
        ET.SubElement(
            body, f"{{{NS}}}resumptionToken", cursor=str(cursor), expirationDate=_stamp(expires)
        ).text = _token(repo, state)
    elif cursor:
        ET.SubElement(body, f"{{{NS}}}resumptionToken", cursor=str(cursor))  # the last page


VERBS: dict[str, Callable[[Session, Repository, dict[str, str], ET.Element], None]] = {
    "Identify": _identify,
    "ListMetadataFormats": _formats,
    "ListSets": _sets,
    "GetRecord": _get_record,
    "ListIdentifiers": lambda s, r, a, b: _list(s, r, a, b, records=False),
    "ListRecords": lambda s, r, a, b: _list(s, r, a, b, records=True),
}
