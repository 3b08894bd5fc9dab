"""跨馆出证: copy requests between partner archives.

A member of the public who finds another archive's record in the union catalog asks here;
the request is forwarded to the holding archive's ``/partner/requests`` (a Lantai), signed
with the key the two archives agreed (``lantai harvest add … --key-stdin`` here,
``lantai partners add NAME`` there), and its status is read back from there.

Signature: hex HMAC-SHA256 over ``timestamp \\n METHOD \\n path \\n body`` with the shared
key, in ``X-Lantai-Signature``, with ``X-Lantai-Timestamp`` and ``X-Lantai-Partner`` (the
sender's OAI repository identifier); a request more than ``SKEW`` seconds old is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
from typing import Any

from sqlmodel import Session

from catalog.models import HarvestSource, Partner, UnionRecord
from configs.errors import BadInputError, LantaiError
from tasks.oaiclient import HarvestError, read_bounded

SKEW = 300
TIMEOUT = 30.0
MAX_ANSWER = 64 * 1024


class PartnerError(LantaiError):
    """The partner archive could not be reached or refused the request."""


def signature(key: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def verify(session: Session, headers: Any, method: str, path: str, body: bytes) -> str:
    """The partner's name when the request is signed by a known partner, recently; raises
    BadInputError otherwise (one message for every failure: nothing to probe)."""
    name = headers.get("x-lantai-partner", "")
    stamp = headers.get("x-lantai-timestamp", "")
    given = headers.get("x-lantai-signature", "")
    partner = session.get(Partner, name) if name else None
    fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= SKEW
    if (
        partner is None
        or not fresh
        or not hmac.compare_digest(signature(partner.key, stamp, method, path, body), given)
    ):
        raise BadInputError("not a signed request of a partner archive")
    return partner.name


def partner_base(oai_url: str) -> str:
    """The partner archive's site: its OAI-PMH endpoint without the trailing /oai."""
    url = oai_url.split("?", 1)[0].rstrip("/")
    return url[: -len("/oai")] if url.endswith("/oai") else url


def _call(
    url: str, key: str, local_name: str, method: str, path: str, payload: dict[str, Any] | None
) -> dict[str, Any]:
    base = partner_base(url)
    full_path = urllib.parse.urlsplit(base).path + path
    body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        base + path,
        data=body if payload is not None else None,
        method=method,
        headers={
            "Content-Type": "application/json",
            "X-Lantai-Partner": local_name,
            "X-Lantai-Timestamp": stamp,
            "X-Lantai-Signature": signature(key, stamp, method, full_path, body),
        },
    )
    return request_json(request)


def request_json(request: urllib.request.Request) -> dict[str, Any]:
    try:
        answer = read_bounded(request, limit=MAX_ANSWER, timeout=TIMEOUT)
    except HarvestError as e:
        raise PartnerError(f"the holding archive: {e.message}") from e
    try:
        data = json.loads(answer)
    except ValueError as e:
        raise PartnerError("the holding archive's answer is not JSON") from e
    if not isinstance(data, dict):
        raise PartnerError("the holding archive's answer is not an object")
    return data


STATUSES = ("new", "done", "refused")


def holder_of(session: Session, record_id: int) -> tuple[UnionRecord, HarvestSource]:
    record = session.get(UnionRecord, record_id)
    source = session.get(HarvestSource, record.source_id) if record and record.folded else None
    if record is None or source is None:
        from catalog.review.editing import NotFound

        raise NotFound("no such record in the union catalog")
    return record, source


def send(url: str, key: str, local_name: str, payload: dict[str, str]) -> tuple[int | None, str, str]:
    """Forward one request to the holding archive (no transaction is open meanwhile):
    (its id there, status, error)."""
    if not key:
        return None, "failed", "no forwarding agreement with this archive: ask it directly"
    try:
        answer = _call(url, key, local_name, "POST", "/partner/requests", payload)
        remote = answer.get("id")
        status = str(answer.get("status", ""))
        if not isinstance(remote, int) or status not in STATUSES:
            raise PartnerError("the holding archive's answer has no request id and status")
        return remote, status, ""
    except PartnerError as e:
        return None, "failed", e.message[:300]


def status_of(url: str, key: str, local_name: str, remote_id: int) -> str | None:
    """The request's status at the holding archive, or None when it cannot be read now."""
    try:
        answer = _call(url, key, local_name, "GET", f"/partner/requests/{remote_id}", None)
    except PartnerError:
        return None
    status = str(answer.get("status", ""))
    return status if status in STATUSES else None
