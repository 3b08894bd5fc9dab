"""An OAI-PMH 2.0 harvester's client: requests, limits and parsing, no catalog.

A feed is someone else's server, so it is treated as hostile:

- responses are read up to ``MAX_RESPONSE`` bytes and refused beyond;
- XML is parsed by defusedxml with DTDs forbidden: no entity expansion (billion laughs),
  no external entities or DTD fetches;
- a record whose metadata is larger than ``MAX_RECORD`` is skipped and counted, not stored;
  every stored field is cut to ``MAX_FIELD`` characters and stripped of control characters;
- a list whose resumption token repeats, or runs past ``max_pages`` pages, is stopped;
- links back to the holding archive must be http(s) URLs.

Only ``oai_dc`` (any provider) and ``lantai_dat`` (another Lantai) are read.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from configs.errors import LantaiError

NS = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
DAT = "{urn:lantai:dat:1.0}"
MAX_RESPONSE = 32 * 1024 * 1024
MAX_RECORD = 256 * 1024  # bytes of one record's metadata
MAX_FIELD = 4000  # characters kept of one field
TIMEOUT = 60.0  # seconds per socket operation
REQUEST_DEADLINE = 300.0  # seconds for one whole request: a 32 MB page at ~100 KB/s
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class HarvestError(LantaiError):
    """The feed cannot be harvested (unreachable, not OAI-PMH, malformed, hostile)."""

    http_status = 502


@dataclass
class Record:
    identifier: str
    datestamp: str
    deleted: bool = False
    sets: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # title, creator, date, … link


@dataclass
class Page:
    records: list[Record]
    token: str  # "" at the end of the list
    rejected: list[str]  # why records were skipped
    response_date: str = ""


def _text(value: str | None) -> str:
    return _CONTROL.sub("", (value or "").strip())[:MAX_FIELD]


def http_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host, else ''."""
    parsed = urllib.parse.urlsplit(value.strip())
    return value.strip() if parsed.scheme in ("http", "https") and parsed.netloc else ""


def read_bounded(
    request: urllib.request.Request, *, limit: int, timeout: float, deadline: float | None = None
) -> bytes:
    """The body of an http(s) request to another archive, refused past ``limit`` bytes;
    every failure is a HarvestError with its reason.

    ``timeout`` bounds each socket operation; ``deadline`` (a ``time.monotonic()`` instant,
    default ``timeout`` from now) bounds the whole exchange: a server that trickles a byte
    at a time never makes a socket operation time out, so the body is read in pieces and
    the clock checked between them."""
    deadline = time.monotonic() + timeout if deadline is None else deadline
    chunks: list[bytes] = []
    size = 0
    try:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left")
        with urllib.request.urlopen(
            request, timeout=min(timeout, left)
        ) as response:  # http(s) only: callers check
            while size <= limit:
                if time.monotonic() > deadline:
                    raise HarvestError(f"no complete answer within the deadline ({size} bytes read): stopped")
                chunk = response.read1(min(65536, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except HarvestError:
        raise
    except urllib.error.HTTPError as e:
        raise HarvestError(f"answered HTTP {e.code}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise HarvestError(f"cannot reach it: {getattr(e, 'reason', e)}") from e
    if size > limit:
        raise HarvestError(f"response larger than {limit // 1024} KB refused")
    return b"".join(chunks)


def fetch(
    base_url: str, params: dict[str, str], *, timeout: float = TIMEOUT, deadline: float | None = None
) -> Element:
    """One OAI-PMH request, its response parsed safely; OAI-PMH errors raise (except
    noRecordsMatch, answered by an empty list). The request ends by ``deadline`` (a
    monotonic instant) and within ``REQUEST_DEADLINE`` seconds whatever the feed does."""
    own = time.monotonic() + REQUEST_DEADLINE
    deadline = own if deadline is None else min(deadline, own)
    if not http_url(base_url):
        raise HarvestError(f"not an http(s) URL: {base_url!r}")
    url = base_url + ("&" if "?" in base_url else "?") + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"User-Agent": "Lantai-harvester/1", "Accept": "text/xml"})
    try:
        body = read_bounded(request, limit=MAX_RESPONSE, timeout=timeout, deadline=deadline)
    except HarvestError as e:
        raise HarvestError(f"{base_url}: {e.message}") from e
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise HarvestError(f"refused: the feed declares a DTD or entities ({type(e).__name__})") from e
    except SafeET.ParseError as e:
        raise HarvestError(f"malformed XML: {e}") from e
    if root.tag != f"{NS}OAI-PMH":
        raise HarvestError(f"not an OAI-PMH response (root element {root.tag[:80]!r})")
    for error in root.findall(f"{NS}error"):
        code = error.get("code", "")
        if code == "noRecordsMatch":
            continue
        raise HarvestError(f"the repository answered {code}: {_text(error.text)[:300]}")
    return root


def identify(base_url: str, *, deadline: float | None = None) -> dict[str, str]:
    root = fetch(base_url, {"verb": "Identify"}, deadline=deadline)
    body = root.find(f"{NS}Identify")
    if body is None:
        raise HarvestError("Identify returned no description")
    return {child.tag.replace(NS, ""): _text(child.text) for child in body if child.tag.startswith(NS)}


def metadata_prefix(base_url: str, *, deadline: float | None = None) -> str:
    """lantai_dat when the repository offers it (another Lantai), else oai_dc."""
    root = fetch(base_url, {"verb": "ListMetadataFormats"}, deadline=deadline)
    offered = {_text(p.text) for p in root.iter(f"{NS}metadataPrefix")}
    if "lantai_dat" in offered:
        return "lantai_dat"
    if "oai_dc" in offered:
        return "oai_dc"
    raise HarvestError("the repository offers neither oai_dc nor lantai_dat")


def _dc_fields(metadata: Element) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for child in metadata.iter():
        if child.tag.startswith(DC) and _text(child.text):
            values.setdefault(child.tag[len(DC) :], []).append(_text(child.text))
    links = [v for v in values.get("identifier", []) if http_url(v)]
    codes = [v for v in values.get("identifier", []) if not http_url(v)]
    return {
        "title": "; ".join(values.get("title", []))[:MAX_FIELD],
        "creator": "; ".join(values.get("creator", []))[:MAX_FIELD],
        "date": (values.get("date") or [""])[0],
        "description": "\n".join(values.get("description", []))[:MAX_FIELD],
        "subject": "; ".join(values.get("subject", []))[:MAX_FIELD],
        "kind": (values.get("type") or [""])[0],
        "reference_code": (codes or [""])[0],
        "link": (links or [""])[0],
    }


def _dat_fields(metadata: Element) -> dict[str, str]:
    record = metadata.find(f"{DAT}record")
    if record is None:
        return {}

    def get(name: str) -> str:
        return _text(record.findtext(f"{DAT}{name}"))

    return {
        "title": get("title"),
        "creator": get("narrator") or get("creator"),
        "date": get("date"),
        "description": get("abstract"),
        "subject": "; ".join(v for v in (get("subject"), get("people")) if v),
        "kind": get("kind"),
        "reference_code": get("reference_code"),
        "link": http_url(get("url")),
    }


def _record(element: Element, prefix: str, rejected: list[str]) -> Record | None:
    header = element if element.tag == f"{NS}header" else element.find(f"{NS}header")
    if header is None:
        rejected.append("a record without a header")
        return None
    identifier = _text(header.findtext(f"{NS}identifier"))[:512]
    if not identifier:
        rejected.append("a record without an identifier")
        return None
    record = Record(
        identifier=identifier,
        datestamp=_text(header.findtext(f"{NS}datestamp"))[:32],
        deleted=header.get("status") == "deleted",
        sets=[_text(s.text)[:128] for s in header.findall(f"{NS}setSpec")],
    )
    metadata = element.find(f"{NS}metadata")
    if record.deleted or metadata is None:
        return record
    size = len(SafeET.tostring(metadata, encoding="utf-8"))
    if size > MAX_RECORD:
        rejected.append(f"{identifier}: metadata of {size} bytes is larger than {MAX_RECORD} (skipped)")
        return None
    record.fields = _dat_fields(metadata) if prefix == "lantai_dat" else _dc_fields(metadata)
    if not record.fields.get("title"):
        record.fields["title"] = identifier
    return record


def list_records(
    base_url: str,
    *,
    prefix: str,
    set_spec: str = "",
    since: str = "",
    token: str = "",
    max_pages: int = 10_000,
    deadline: float | None = None,
) -> Iterator[Page]:
    """The pages of ListRecords (resuming at ``token`` when given), one request at a time,
    all of them by ``deadline`` (a monotonic instant) when one is given."""
    seen: set[str] = set()
    pages = 0
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            raise HarvestError(
                f"the harvest's deadline passed after {pages} pages: stopped (the next run resumes)"
            )
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": prefix}
            if set_spec:
                params["set"] = set_spec
            if since:
                params["from"] = since
        root = fetch(base_url, params, deadline=deadline)
        pages += 1
        body = root.find(f"{NS}ListRecords")
        rejected: list[str] = []
        records: list[Record] = []
        for element in body.findall(f"{NS}record") if body is not None else []:
            record = _record(element, prefix, rejected)
            if record is not None:
                records.append(record)
        next_token = _text(body.findtext(f"{NS}resumptionToken")) if body is not None else ""
        yield Page(records, next_token, rejected, _text(root.findtext(f"{NS}responseDate")))
        if not next_token:
            return
        if next_token in seen or next_token == token:
            raise HarvestError("the feed repeats a resumption token (an endless list): stopped")
        if pages >= max_pages:
            raise HarvestError(f"the list ran past {max_pages} pages without ending: stopped")
        seen.add(next_token)
        token = next_token
