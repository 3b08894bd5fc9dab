"""Catalog tables (SQLModel). Field names are English; the DA/T 18 / DA/T 59 names are in
the comments and in ``catalog.standards``. Every schema change goes through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_serializer
from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw))


def _json(default: dict[str, Any] | list[Any]) -> Any:
    """A JSON column, never null, starting as an empty dict or list (a fresh one per row)."""
    factory: Any = dict if isinstance(default, dict) else list
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class ItemStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    enriched = "enriched"
    in_review = "in_review"
    approved = "approved"
    failed = "failed"
    quarantined = "quarantined"


class Access(StrEnum):
    """开放标识 (DA/T 18)."""

    open = "开放"
    controlled = "控制"
    deferred = "延期"
    unreviewed = "未审核"


class FlagStatus(StrEnum):
    """Where a flag stands. ``removed``: an edit took the flagged value out of the text; its
    image boxes and audio spans stay redacted until a reviewer decides it (an edit never
    un-redacts)."""

    open = "open"
    confirmed = "confirmed"
    dismissed = "dismissed"
    removed = "removed"


# a flag in one of these states waits for a reviewer: the item cannot open
UNDECIDED = (FlagStatus.open.value, FlagStatus.removed.value)
# the flags open review decides: screening hits and text regions OCR could not read
SCREENING_KINDS = ("pii", "term", "unread")


class AssetRole(StrEnum):
    """What an asset is to its item."""

    master = "master"  # the file as deposited, write-once
    access = "access"  # the access copy of a recording (AAC in MP4)
    peaks = "peaks"  # the waveform of a recording, for the player
    page_image = "page_image"  # a page as OCR saw it (upright, the boxes refer to it)
    hocr = "hocr"  # OCR's hOCR document of a master
    pdf = "pdf"  # the searchable PDF of a master
    quarantine = "quarantine"  # a file that could not be used, kept with the reason
    public_page = "public_page"  # a page image with the hidden boxes blacked out
    public_access = "public_access"  # an access copy with the hidden spans silenced


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class EventType(StrEnum):
    """The PREMIS-style event types Lantai records (``Event.type``). The values are what the
    catalog stores; a new type is a new member here, and ``tests/catalog/test_fields.py``
    checks that the migrations write no other (mypy, that the code writes no other)."""

    # ingest
    ingestion = "ingestion"
    digest = "message digest calculation"
    format_identification = "format identification"
    duplicate = "duplicate detection"
    quarantine = "quarantine"
    ingestion_problem = "ingestion problem"
    manifest_archived = "manifest archived"
    ingestion_run = "ingestion run"
    # enrich
    ocr = "optical character recognition"
    transcription = "transcription"
    hallucination_removal = "hallucination removal"
    enrichment = "enrichment"
    enrichment_run = "enrichment run"
    # review and opening
    screening = "screening"
    withheld = "withheld"
    screening_review = "screening review"
    access_decision = "access decision"
    redaction = "redaction"
    edit = "edit"
    approval = "approval"
    status_change = "status change"
    compilation = "compilation"
    export = "export"
    # preservation and operations
    fixity_check = "fixity check"
    fixity_audit = "fixity audit"
    replication = "replication"
    scheduled_run = "scheduled run"
    server_error = "prefect server error"
    retry = "retry"
    # people
    copy_request = "copy request"
    login = "login"
    logout = "logout"
    lockout = "sign-in lockout"
    user_change = "user change"


class Kind(StrEnum):
    scan = "scan"
    recording = "recording"
    other = "other"


class Collection(SQLModel, table=True):
    """A fonds (全宗) or thematic collection (专题) with its processing defaults."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = ""
    fonds: str = Field(default="J001", max_length=32)  # 全宗号
    ocr_languages: str = "chi_sim+eng"
    asr_language: str = ""  # empty: detect
    script: str = "zh-Hans"
    vocabulary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    term_lists: str = ""  # screening term lists by name, comma-separated; empty: all lists
    retention: str = "Y"
    created_at: datetime = _ts()


class ItemBase(SQLModel):
    """The description of an item (DA/T 18-2022 / DA/T 59-2017): what editors and manifests set."""

    reference_code: str = Field(index=True, unique=True, max_length=128)  # 档号 (DA/T 13)
    title: str = ""  # 题名
    creator: str = ""  # 责任者
    date: str = ""  # 日期 YYYYMMDD or YYYYMMDD-YYYYMMDD
    place: str = ""  # 地点
    people: str = ""  # 人名
    language: str = ""  # 语言
    subject: str = ""  # 主题词/关键词
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # 范围和提要
    extent: str = ""  # 载体形态
    generation: str = "数字化"  # 生成方式: 原生 / 数字化
    retention: str = "Y"  # 保管期限: Y, D30, D10
    classification: str = ""  # 密级
    notes: str = ""  # 附注
    narrator: str = ""  # 口述者 (DA/T 59)
    interviewer: str = ""  # 采集者
    collected_at: str = ""  # 采集时间
    collected_place: str = ""  # 采集地点
    consent: str = ""  # 授权


class Item(ItemBase, table=True):
    """The unit of description (件 / 案卷): one interview, one document, one file of pages."""

    __table_args__ = (Index("ix_item_collection_status", "collection_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    collection_id: int = Field(foreign_key="collection.id", index=True)
    kind: str = Field(default=Kind.other, max_length=16)
    status: str = Field(default=ItemStatus.pending, max_length=16, index=True)
    status_reason: str = ""
    access: str = Field(default=Access.unreviewed, max_length=8)  # 开放标识
    source_name: str = ""  # original file name of the first master
    batch: str = ""
    ocr_languages: str = ""  # per-item override of the collection's languages
    progress: float = 0.0  # 0..1 while processing
    extra: dict[str, Any] = _json({})
    version: int = 0  # optimistic locking for edits of the description
    claimed_by: str = Field(default="", max_length=128)  # the worker processing it (scale-out)
    claimed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts(onupdate=utcnow)


class ItemCreate(ItemBase):
    """What creating an item needs besides its description."""

    collection_id: int
    kind: str = Kind.other
    access: str = Access.unreviewed
    source_name: str = ""


class ItemUpdate(SQLModel):
    """A change of description fields; ``version`` is the one the change was made on."""

    version: int
    reference_code: str | None = None
    title: str | None = None
    creator: str | None = None
    date: str | None = None
    place: str | None = None
    people: str | None = None
    language: str | None = None
    subject: str | None = None
    abstract: str | None = None
    extent: str | None = None
    generation: str | None = None
    retention: str | None = None
    classification: str | None = None
    notes: str | None = None
    narrator: str | None = None
    interviewer: str | None = None
    collected_at: str | None = None
    collected_place: str | None = None
    consent: str | None = None


class ItemPublic(ItemBase):
    """An item as the JSON API shows it."""

    id: int
    collection_id: int
    kind: str
    status: str
    access: str
    source_name: str
    version: int
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _utc(self, value: datetime) -> str:
        """RFC 3339 with its zone, as the schema's date-time promises (SQLite returns the
        stored UTC times without one)."""
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


class Asset(SQLModel, table=True):
    """A stored object: the master, or a derivative made from one."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    role: str = Field(max_length=16)  # AssetRole
    key: str = Field(unique=True, max_length=1024)
    sha256: str = Field(index=True, max_length=64)
    size: int = 0
    media_type: str = ""
    format_name: str = ""
    original_name: str = ""
    sequence: int = 0  # order of masters within the item
    source_asset_id: int | None = Field(default=None, foreign_key="asset.id")
    tech: dict[str, Any] = _json({})
    created_at: datetime = _ts()


class Page(SQLModel, table=True):
    """One page of OCR (or extracted) text, with lines and words in page-image pixels."""

    __table_args__ = (UniqueConstraint("item_id", "page_no"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    page_no: int  # 1-based within the item
    source_page: int = 1  # 1-based within the asset
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    lines: list[Any] = _json([])  # [{"text", "bbox", "conf", "words": [{"text","bbox","conf"}]}]
    # text regions the detector found but recognition left empty or read below the engine's
    # score: [{"bbox": [x0, y0, x1, y1], "score": float, "text": str}]; screening flags them
    unread: list[Any] = _json([])
    width: int = 0
    height: int = 0
    mean_conf: float | None = None
    status: str = "ok"  # ok | failed | empty
    error: str = ""
    engine: str = ""
    method: str = "ocr"  # ocr | text-layer (born-digital PDF text, not recognised)
    rotation: int = 0  # clockwise degrees turned to make the page upright
    skew: float = 0.0  # degrees of deskew applied
    image_key: str = Field(default="", max_length=1024)  # the page image boxes refer to
    result_key: str = Field(default="", max_length=64)
    version: int = 0  # optimistic locking for edits
    created_at: datetime = _ts()


class Transcript(SQLModel, table=True):
    """One transcription run of one recording."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    language: str = ""
    language_probability: float | None = None
    duration: float = 0.0
    engine: str = ""
    model: str = ""
    model_sha256: str = ""
    options: dict[str, Any] = _json({})
    result_key: str = Field(default="", max_length=64, index=True)
    status: str = "ok"  # ok | empty | failed
    error: str = ""
    created_at: datetime = _ts()


class Segment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("transcript_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcript.id", index=True)
    seq: int
    start: float
    end: float
    text: str = Field(sa_column=Column(Text, nullable=False))
    raw_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    confidence: float | None = None
    no_speech_prob: float | None = None
    speaker: str = ""
    words: list[Any] = _json([])  # [{"start","end","word","probability"}]
    version: int = 0


class Event(SQLModel, table=True):
    """A PREMIS-style event: what was done to which object, by whom or what, with what outcome."""

    __table_args__ = (Index("ix_event_type_at", "type", "at"),)  # throughput windows

    id: int | None = Field(default=None, primary_key=True)
    item_id: int | None = Field(default=None, foreign_key="item.id", index=True)
    asset_id: int | None = Field(default=None, foreign_key="asset.id")
    type: str = Field(max_length=32, index=True)  # an EventType
    agent: str = ""
    outcome: str = "success"  # success | failure | warning
    detail: dict[str, Any] = _json({})
    at: datetime = _ts()


class Revision(SQLModel, table=True):
    """Who changed what, when, with the text before and after. Machine output is revision 0."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    target: str = Field(max_length=16)  # segment | page | item
    target_id: int
    number: int
    author: str = ""
    before: dict[str, Any] = _json({})
    after: dict[str, Any] = _json({})
    at: datetime = _ts()


class Flag(SQLModel, table=True):
    """Something an editor or reviewer must look at, with where it is: a screening hit
    (personal information, a listed term) or a machine doubt (hallucinated repetition)."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    kind: str = Field(max_length=24)  # hallucination | pii | term | unread
    category: str = ""  # e.g. repetition, id_number, mobile, a term list's category
    status: str = Field(default="open", max_length=12)  # FlagStatus
    page_no: int | None = None
    page_id: int | None = None  # the Page row (its number above, as shown)
    bbox: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    segment_id: int | None = None
    start: float | None = None
    end: float | None = None
    preview: str = ""
    detail: dict[str, Any] = _json({})
    created_at: datetime = _ts()


class Role(StrEnum):
    collector = "collector"
    editor = "editor"
    operator = "operator"
    admin = "admin"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # collector | editor | operator | admin
    password_hash: str = ""
    active: bool = True
    created_at: datetime = _ts()


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database does not let anyone in. Logout deletes the row."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Project(SQLModel, table=True):
    """A compilation project (编研): a thematic publication built from excerpts."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=256)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    editors: str = ""  # user names, comma-separated
    created_by: str = ""
    created_at: datetime = _ts()
    updated_at: datetime = _ts(onupdate=utcnow)


class Excerpt(SQLModel, table=True):
    """A span of a transcript (segments from..to) or of a page range (lines), with the
    editor's heading and notes. ``quoted`` is the text as it was when added or last
    accepted, so a later correction of the source shows as an update."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    position: int = 0
    heading: str = ""
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    segment_from: int | None = None  # Segment ids, inclusive
    segment_to: int | None = None
    page_from: int | None = None  # page numbers, inclusive
    page_to: int | None = None
    page_from_id: int | None = None  # the same pages' rows: the excerpt follows them by id
    page_to_id: int | None = None
    line_from: int | None = None  # 0-based line index on page_from
    line_to: int | None = None  # 0-based line index on page_to, inclusive
    quoted: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _ts()


class SearchEntry(SQLModel, table=True):
    """One searchable unit: an item's description, one page's running text (or a part of
    a long page), or one transcript segment with the start of the segments after it
    (``catalog.search.running``); ``pieces`` maps its text back to lines and segments.

    ``tokens`` and ``bigrams`` hold the normalized forms the full-text index is built on
    (see ``catalog.search.terms``).
    """

    __tablename__ = "search_entry"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    field: str = Field(max_length=16)  # title | meta | page | segment
    page_no: int | None = None
    bbox: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    segment_id: int | None = None
    start: float | None = None
    end: float | None = None
    audience: str = Field(default="staff", max_length=8, index=True)  # staff | public (redacted text)
    text: str = Field(sa_column=Column(Text, nullable=False))
    tokens: str = Field(sa_column=Column(Text, nullable=False))  # CJK characters + other words
    bigrams: str = Field(sa_column=Column(Text, nullable=False))  # overlapping CJK bigrams
    pieces: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AccessDecision(SQLModel, table=True):
    """One round of open review (开放审核) of an item: who proposed or confirmed which 开放标识,
    and why. With two rounds configured, the second reviewer (another person) makes it
    effective."""

    __tablename__ = "access_decision"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    round: int = 1
    reviewer: str = Field(max_length=64)
    access: str = Field(max_length=8)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    effective: bool = False
    at: datetime = _ts()


class CopyRequest(SQLModel, table=True):
    """A member of the public asking for a copy of an open record."""

    __tablename__ = "copy_request"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    name: str = Field(max_length=128)
    contact: str = Field(max_length=256)
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="new", max_length=12)  # new | done | refused
    handled_by: str = ""
    created_at: datetime = _ts()


class WithdrawnRecord(SQLModel, table=True):
    """An item that was open (开放) and is no longer: harvesters are told it is deleted
    (OAI-PMH ``persistent`` deleted records). Removed when the item opens again."""

    __tablename__ = "withdrawn_record"

    item_id: int = Field(foreign_key="item.id", primary_key=True)
    at: datetime = _ts()


class HarvestSource(SQLModel, table=True):
    """Another archive's OAI-PMH endpoint harvested into the union catalog (跨馆查询), with
    the state of its harvests. ``key``: the key shared with that archive for forwarding copy
    requests (跨馆出证); empty when none was agreed."""

    __tablename__ = "harvest_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True, unique=True)
    url: str = Field(max_length=2048)
    set_spec: str = Field(default="", max_length=128)
    prefix: str = Field(default="", max_length=32)  # chosen at the first harvest
    repository_name: str = ""  # from its Identify
    key: str = Field(default="", max_length=256)
    since: str = Field(default="", max_length=32)  # the responseDate of the last complete harvest
    token: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # to resume
    status: str = Field(default="new", max_length=12)  # new | running | ok | failed
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    records: int = 0
    last_added: int = 0
    last_deleted: int = 0
    last_rejected: int = 0
    last_run_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class UnionRecord(SQLModel, table=True):
    """A record harvested from another archive, as that archive describes it publicly."""

    __tablename__ = "union_record"
    __table_args__ = (UniqueConstraint("source_id", "identifier"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="harvest_source.id", index=True)
    identifier: str = Field(max_length=512)
    datestamp: str = Field(default="", max_length=32)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    creator: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    date: str = Field(default="", max_length=64)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    kind: str = Field(default="", max_length=32)
    reference_code: str = Field(default="", max_length=256)
    link: str = Field(default="", max_length=2048)  # its page at the holding archive (http(s))
    folded: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # for search


class Partner(SQLModel, table=True):
    """An archive allowed to forward copy requests here (跨馆出证), with the shared key its
    requests are signed with."""

    name: str = Field(primary_key=True, max_length=64)
    key: str = Field(max_length=256)
    created_at: datetime = _ts()


class PartnerNonce(SQLModel, table=True):
    """A signed partner request already received: the same nonce again is a replay and is
    refused. Rows older than the signature's freshness window are dropped (a replay that
    old fails the timestamp check anyway)."""

    __tablename__ = "partner_nonce"

    partner: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = _ts(index=True)


class PartnerRequest(SQLModel, table=True):
    """A copy request forwarded here by a partner archive (which alone may read its status)."""

    __tablename__ = "partner_request"

    copy_request_id: int = Field(foreign_key="copy_request.id", primary_key=True)
    partner: str = Field(max_length=64, index=True)


class ForwardedRequest(SQLModel, table=True):
    """A copy request made here for another archive's record, forwarded to that archive."""

    __tablename__ = "forwarded_request"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="union_record.id", index=True)
    name: str = Field(max_length=128)
    contact: str = Field(max_length=256)
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    remote_id: int | None = None
    # forwarding (waiting for the relay) | sending | new | done | refused | failed
    status: str = Field(default="forwarding", max_length=12)
    error: str = ""
    created_at: datetime = _ts()
    updated_at: datetime = _ts(onupdate=utcnow)


class Schedule(SQLModel, table=True):
    """A scheduled deployment (inbox sweep, fixity audit, replication) as operators see it:
    its cron, who serves it, what Prefect has scheduled next and how its last run ended.
    ``lantai worker`` registers and heartbeats the rows; every run of a scheduled
    deployment records its start and end (``flows.run_records``), also under a work pool."""

    name: str = Field(primary_key=True, max_length=64)  # the deployment name, e.g. inbox-sweep
    flow: str = Field(default="", max_length=64)
    cron: str = Field(default="", max_length=64)  # empty: not scheduled (on demand only)
    timezone: str = Field(default="UTC", max_length=64)
    active: bool = True  # false once its worker stopped serving it on purpose
    served_by: str = Field(default="", max_length=128)  # the lantai worker; empty under a work pool
    registered_at: datetime = _ts()  # when the schedule was (re)registered: the reference before any run
    heartbeat_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    next_run_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_outcome: str = Field(default="", max_length=12)  # running | success | failure | crashed
    last_success_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    last_flow_run: str = Field(default="", max_length=64)
    problem: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # Prefect's side
    problem_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class IndexState(SQLModel, table=True):
    """Versions of what the search index was built with (e.g. ``normalization``), so an
    upgrade that changes them rebuilds the affected entries (``catalog.db``)."""

    __tablename__ = "index_state"

    name: str = Field(primary_key=True, max_length=32)
    version: int = 1


class ProcessingStat(SQLModel, table=True):
    """Seconds per OCR or transcription run, per engine, as a Prometheus histogram kept
    current as the runs' events are written: ``/metrics`` reads these rows, not the events."""

    __tablename__ = "processing_stat"

    engine: str = Field(primary_key=True, max_length=64)
    count: int = 0
    total_seconds: float = 0.0
    le_1: int = 0  # runs of at most 1 s (cumulative, as Prometheus buckets are)
    le_5: int = 0
    le_15: int = 0
    le_60: int = 0
    le_300: int = 0
    le_900: int = 0
    le_3600: int = 0


class Job(SQLModel, table=True):
    """Work the web app asks for and a worker does: the web server never runs OCR, ASR or
    redaction itself. ``enrich`` re-runs a failed item; ``redact`` remakes an open item's
    public copies after a screening decision. The worker's ``jobs`` deployment (and every
    inbox sweep) takes queued jobs one at a time."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # enrich | redact
    item_id: int = Field(foreign_key="item.id", index=True)
    state: str = Field(default=JobState.queued, max_length=12, index=True)  # JobState
    requested_by: str = Field(default="", max_length=64)
    worker: str = Field(default="", max_length=128)
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
