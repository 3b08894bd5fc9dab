"""跨馆出证: copy requests between partner archives.

A member of the public who finds another archive's record in the union catalog asks here;
the request is forwarded to the holding archive's ``/partner/requests`` (a Lantai), signed
with the key the two archives agreed (``lantai harvest add … --key-stdin`` here,
``lantai partners add NAME`` there), and its status is read back from there.

Signature: hex HMAC-SHA256 over ``timestamp \\n nonce \\n METHOD \\n path \\n body`` with the
shared key, in ``X-Lantai-Signature``, with ``X-Lantai-Timestamp``, ``X-Lantai-Nonce`` (16 to
64 random characters, new for every request) and ``X-Lantai-Partner`` (the sender's OAI
repository identifier). A request more than ``SKEW`` seconds old is refused, and so is a
nonce already received from that partner: a captured request cannot be replayed.

Every call to a partner has an overall deadline (``DEADLINE``), not only a timeout per
socket operation, so a partner that trickles its answer cannot hold a worker. Visitors'
requests never wait on a partner: ``relay`` forwards and refreshes in the background.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select, update

from catalog.db import session_scope
from catalog.models import ForwardedRequest, HarvestSource, Partner, PartnerNonce, UnionRecord, utcnow
from configs import Settings
from configs.digest import equal_secrets
from configs.errors import BadInputError, LantaiError
from tasks.oaiclient import HarvestError, read_bounded

SKEW = 300
TIMEOUT = 10.0  # seconds per socket operation
DEADLINE = 20.0  # seconds for a whole call: connect, send, read the answer
MAX_ANSWER = 64 * 1024


class PartnerError(LantaiError):
    """The partner archive could not be reached or refused the request."""

    http_status = 502


def signature(key: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def verify(session: Session, headers: Any, method: str, path: str, body: bytes) -> str:
    """The partner's name when the request is signed by a known partner, recently, with a
    nonce not seen before (the nonce is then remembered); raises BadInputError otherwise
    (one message for every failure: nothing to probe)."""
    name = headers.get("x-lantai-partner", "")
    stamp = headers.get("x-lantai-timestamp", "")
    nonce = headers.get("x-lantai-nonce", "")
    given = headers.get("x-lantai-signature", "")
    partner = session.get(Partner, name) if name and len(name) <= 64 else None
    fresh = stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 and abs(time.time() - int(stamp)) <= SKEW
    if (
        partner is None
        or not fresh
        or not _NONCE.fullmatch(nonce)
        or not equal_secrets(signature(partner.key, stamp, nonce, method, path, body), given)
        or not _first_use(session, partner.name, nonce)
    ):
        raise BadInputError("not a signed request of a partner archive")
    return partner.name


def _first_use(session: Session, partner: str, nonce: str) -> bool:
    """Remember the nonce; False when it was already used. The insert is its own savepoint,
    so two copies of one request arriving at once cannot both pass (the primary key)."""
    session.execute(
        delete(PartnerNonce).where(col(PartnerNonce.seen_at) < utcnow() - timedelta(seconds=2 * SKEW))
    )
    if session.get(PartnerNonce, (partner, nonce)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(PartnerNonce(partner=partner, nonce=nonce))
    except IntegrityError:
        return False
    return True


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
    nonce = secrets.token_urlsafe(24)
    request = urllib.request.Request(
        base + path,
        data=body if payload is not None else None,
        method=method,
        headers={
            "Content-Type": "application/json",
            "X-Lantai-Partner": local_name,
            "X-Lantai-Timestamp": stamp,
            "X-Lantai-Nonce": nonce,
            "X-Lantai-Signature": signature(key, stamp, nonce, method, full_path, body),
        },
    )
    return request_json(request)


def request_json(request: urllib.request.Request) -> dict[str, Any]:
    try:
        answer = read_bounded(
            request, limit=MAX_ANSWER, timeout=TIMEOUT, deadline=time.monotonic() + DEADLINE
        )
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


# ---------------------------------------------------------------- the relay (background)

REFRESH_AFTER = 60.0  # seconds between reads of one request's status at the holding archive
RELAY_BATCH = 20  # requests forwarded or refreshed per pass: a pass stays short


def relay_once(settings: Settings, *, refresh_after: float = REFRESH_AFTER) -> int:
    """One pass of the relay: forward the requests visitors left here (status
    ``forwarding``), then read back the status of those the holding archive has (``new``)
    and were not read for ``refresh_after`` seconds. No transaction is open during a call;
    each call has its deadline. Returns the number of calls made."""
    local = settings.oai.repository_identifier
    calls = 0
    with session_scope(settings) as session:
        # a send cut off by a stopped server is not repeated blindly (the holder may have it)
        session.execute(
            update(ForwardedRequest)
            .where(col(ForwardedRequest.status) == "sending")
            .where(col(ForwardedRequest.updated_at) < utcnow() - timedelta(seconds=10 * DEADLINE))
            .values(status="failed", error="interrupted while being forwarded: please ask again")
        )
        waiting = session.exec(
            select(ForwardedRequest)
            .where(ForwardedRequest.status == "forwarding")
            .order_by(col(ForwardedRequest.id))
            .limit(RELAY_BATCH)
        ).all()
        jobs = []
        for row in waiting:  # claimed one by one: two servers never send one request twice
            claim = session.execute(
                update(ForwardedRequest)
                .where(col(ForwardedRequest.id) == row.id, col(ForwardedRequest.status) == "forwarding")
                .values(status="sending", updated_at=utcnow())
            )
            if getattr(claim, "rowcount", 0) == 1:
                jobs.append((row.id or 0, *_target(session, row)))
    for row_id, url, key, payload in jobs:
        remote, status, error = send(url, key, local, payload) if url else (None, "failed", "no such record")
        calls += 1
        with session_scope(settings) as session:
            sent = session.get(ForwardedRequest, row_id)
            if sent is not None and sent.status == "sending":
                sent.remote_id, sent.status, sent.error = remote, status, error
                session.add(sent)
    stale = utcnow() - timedelta(seconds=refresh_after)
    with session_scope(settings) as session:
        rows = session.exec(
            select(ForwardedRequest)
            .where(ForwardedRequest.status == "new", col(ForwardedRequest.remote_id).is_not(None))
            .where(col(ForwardedRequest.updated_at) <= stale)
            .order_by(col(ForwardedRequest.updated_at))
            .limit(RELAY_BATCH)
        ).all()
        checks = [(row.id or 0, row.remote_id or 0, *_target(session, row)[:2]) for row in rows]
    for row_id, remote_id, url, key in checks:
        read = status_of(url, key, local, remote_id) if url and key else None
        calls += 1
        with session_scope(settings) as session:
            checked = session.get(ForwardedRequest, row_id)
            if checked is not None and checked.status == "new":
                checked.status = read or checked.status
                checked.updated_at = utcnow()  # read now, whatever the answer: next read in refresh_after
                session.add(checked)
    return calls


def _target(session: Session, row: ForwardedRequest) -> tuple[str, str, dict[str, str]]:
    """The holding archive's URL and key, and the payload to send, for a forwarded request."""
    record = session.get(UnionRecord, row.record_id)
    source = session.get(HarvestSource, record.source_id) if record else None
    if record is None or source is None:
        return "", "", {}
    payload = {"identifier": record.identifier, "name": row.name, "contact": row.contact}
    payload["purpose"] = row.purpose
    return source.url, source.key, payload


class Relay:
    """The relay as one background thread of the web app: it runs a pass every ``interval``
    seconds, and at once when woken (a visitor left a request, or looked at one whose status
    is old). Visitors never wait on it, and however many there are, the partners see one
    call at a time."""

    def __init__(self, settings: Settings, *, interval: float = REFRESH_AFTER) -> None:
        self.settings = settings
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lantai-partner-relay", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=DEADLINE + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                relay_once(self.settings, refresh_after=self.interval)
            except Exception:  # a database hiccup: logged, and the next pass tries again
                logging.getLogger(__name__).exception("partner relay pass failed")
