"""The enrich flow: OCR for scans, transcription for recordings, then the search index.

Work is keyed by (master checksum, engine, version/model, options): a re-run skips what is
already done, and a changed model or option re-runs only what it affects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, delete, func, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import (
    Access,
    Asset,
    Collection,
    Excerpt,
    Flag,
    Item,
    ItemStatus,
    Kind,
    Page,
    Segment,
    Transcript,
)
from catalog.review.editing import add_machine_reading
from catalog.review.screening import term_lists
from configs import Settings, get_settings
from configs.errors import BadInputError, ConfigError, MissingDependencyError
from flows import runner
from flows.progress import report
from flows.redact import redact_item
from flows.retry import BACKOFF, is_transient
from flows.screen import screen_item
from storage import ObjectStore, StorageError, download, open_store
from storage.keys import derivative_key
from tasks import asr, media, models, ocr, tools
from tasks.asr import speakers as asr_speakers
from tasks.hosted import EngineCrashed, EngineTimeout

DOUBTS = ("repetition", "no_speech", "too_fast")  # segment flags that become review flags
LANGUAGE_CODES = {
    "中文": "zh",
    "汉语": "zh",
    "普通话": "zh",
    "chinese": "zh",
    "英语": "en",
    "english": "en",
    "粤语": "yue",
    "cantonese": "yue",
}


@dataclass
class ItemOutcome:
    item_id: int
    reference_code: str
    kind: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    skipped: bool = False
    pages: int = 0
    segments: int = 0
    duration: float = 0.0
    excerpt: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def result_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _store_derivative(
    settings: Settings,
    store: ObjectStore,
    *,
    source: Asset,
    role: str,
    path: Path,
    name: str,
    media_type: str,
) -> None:
    """Upload a derivative (no transaction open), then record it in one short write,
    replacing an earlier one of the same role."""
    key = derivative_key(source.sha256, name)
    info = store.put_file(key, path, content_type=media_type)
    stale = ""
    with session_scope(settings) as session:
        old = crud.derivative(session, source_asset_id=source.id or 0, role=role)
        if old is not None and old.key != key:
            stale = old.key
            session.delete(old)
            session.flush()
        asset = (
            old
            if old is not None and old.key == key
            else Asset(item_id=source.item_id, role=role, key=key, sha256="", source_asset_id=source.id)
        )
        asset.sha256, asset.size, asset.media_type = info.sha256 or "", info.size, media_type
        session.add(asset)
    if stale:
        store.delete(stale)


_published: dict[int, float] = {}
PROGRESS_EVERY = 10.0  # seconds between progress objects of one item


def publish_progress(store: ObjectStore, item_id: int, state: dict[str, Any], *, force: bool = False) -> None:
    """Put ``progress/<item>.json`` in the object store (every ``PROGRESS_EVERY`` seconds at
    most): the dashboard shows per-item progress of long recordings and big PDFs from any
    worker machine, without writing to the catalog inside the item's transaction."""
    now = time.monotonic()
    if not force and now - _published.get(item_id, 0.0) < PROGRESS_EVERY:
        return
    _published[item_id] = now
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(state | {"at": time.time()}, fh)
    try:
        store.put_file(f"progress/{item_id}.json", Path(fh.name), content_type="application/json")
    except (StorageError, OSError):  # progress is a courtesy: the work goes on without it
        pass
    finally:
        Path(fh.name).unlink(missing_ok=True)


def _keep_corrections(settings: Settings, item: Item, asset: Asset, outcome: ItemOutcome, what: str) -> None:
    """Editors have corrected this master's text: a re-run must not replace their work."""
    reason = f"{what} not re-run: editors have corrected this text (see its history)"
    with session_scope(settings) as session:
        crud.add_event(
            session, type="enrichment", item_id=item.id, asset_id=asset.id, outcome="warning", reason=reason
        )
    outcome.skipped = True
    outcome.reason += f"{reason}; "


class Heartbeat:
    """Renews an item's claim while a worker works on it (each renewal one short write), so
    a long transcription with a large model is never taken over by another worker; a dead
    worker stops renewing and its items are taken over once the lease runs out."""

    def __init__(self, settings: Settings, item_id: int) -> None:
        self.settings, self.item_id = settings, item_id
        lease = settings.worker.lease_hours * 3600
        self.every = max(0.5, min(lease / 4, 300.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"claim-{item_id}", daemon=True)
        self.renewals = 0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with session_scope(self.settings) as session:
                    if crud.renew_claim(
                        session, item_id=self.item_id, worker=self.settings.worker.worker_name
                    ):
                        self.renewals += 1
            except Exception:  # a busy or unreachable database: try again at the next beat
                continue

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# ---------------------------------------------------------------- OCR

OCR_DONE = "ocr_result_key"  # asset.tech: the result key whose pages are complete ("" while running)


def _page_lines(page: ocr.PageResult) -> list[dict[str, Any]]:
    return [
        {
            "text": ln.text,
            "bbox": list(ln.bbox),
            "conf": ln.conf,
            "words": [{"text": w.text, "bbox": list(w.bbox), "conf": w.conf} for w in ln.words],
        }
        for ln in page.lines
    ]


def _write_page(
    settings: Settings,
    *,
    item_id: int,
    asset: Asset,
    page: ocr.PageResult,
    key: str,
    engine: str,
    image: tuple[str, str, int] | None,
) -> Page:
    """One short write per page. A page keeps its row and its number across re-runs: it is
    found by (master, page within the master); a new page takes the next number of the
    item (file order, then page order, as the masters are processed in order)."""
    lines = _page_lines(page)
    with session_scope(settings) as session:
        if image is not None:
            image_key, sha256, size = image
            img = session.exec(select(Asset).where(Asset.key == image_key)).first() or Asset(
                item_id=item_id, role="page_image", key=image_key, sha256="", source_asset_id=asset.id
            )
            img.sha256, img.size, img.media_type, img.sequence = sha256, size, "image/jpeg", page.page_no
            session.add(img)
        row = session.exec(
            select(Page).where(Page.asset_id == asset.id, Page.source_page == page.page_no)
        ).first()
        if row is None:
            last = session.exec(select(func.max(Page.page_no)).where(Page.item_id == item_id)).one()
            row = Page(
                item_id=item_id, asset_id=asset.id or 0, page_no=(last or 0) + 1, source_page=page.page_no
            )
        corrected = row.version > 0
        if corrected:
            session.flush()
            add_machine_reading(session, row, lines, engine=engine)
        else:
            row.text, row.lines = page.text, lines
            row.width, row.height, row.mean_conf = page.width, page.height, page.mean_conf
            row.rotation, row.skew = page.rotation, page.skew
        row.status, row.error, row.engine, row.method = page.status, page.error, engine, page.method
        # the regions the detector found and recognition did not read (screened as "unread")
        row.unread = [{"bbox": list(r.bbox), "score": r.score, "text": r.text} for r in page.unread]
        if image is not None:
            row.image_key = image[0]
        row.result_key = key
        session.add(row)
        session.flush()
        return row


def _ocr_asset(
    settings: Settings,
    store: ObjectStore,
    item: Item,
    coll: Collection,
    asset: Asset,
    work: Path,
    *,
    force: bool,
    outcome: ItemOutcome,
) -> None:
    """OCR one master page by page, outside any transaction: each page's row and image are
    written in a short transaction as it finishes, so a long PDF streams through in bounded
    memory and editors keep saving meanwhile. Pages are updated in place: their numbers,
    the editors' corrections and what refers to them stay."""
    began = time.monotonic()
    languages = item.ocr_languages or coll.ocr_languages or settings.ocr.languages
    engine_name = ocr.choose_engine(str(item.extra.get("ocr_engine") or settings.ocr.engine), languages)
    workers = settings.ocr.workers or os.cpu_count() or 1
    engine = ocr.make_engine(engine_name, workers=workers)
    version = engine.version()
    options = ocr.options(languages, settings.ocr.dpi, engine=engine_name)
    key = result_key(sha256=asset.sha256, engine=engine_name, version=version, **options)
    with session_scope(settings) as session:
        current = session.get(Asset, asset.id)
        assert current is not None
        marker = current.tech.get(OCR_DONE)
        keys = set(session.exec(select(Page.result_key).where(Page.asset_id == asset.id)).all())
        # a catalog from before the marker wrote each master's pages in one transaction
        done = marker == key or (marker is None and keys == {key})
        if done and not force:
            outcome.skipped = True
            return
        current.tech = {**current.tech, OCR_DONE: ""}  # running: a killed run is not "done"
        session.add(current)
    workdir = work.parent / "ocr"
    workdir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    failed: list[dict[str, Any]] = []
    count = 0
    engine_label = version if engine_name == "ppocr" else f"tesseract {version}"
    with ocr.HocrWriter(workdir / "item.hocr") as hocr:
        for page in ocr.ocr_pages(
            work,
            kind="pdf" if asset.media_type == "application/pdf" else "image",
            languages=languages,
            workdir=workdir,
            dpi=settings.ocr.dpi,
            page_timeout=settings.ocr.page_timeout,
            workers=workers,
            engine=engine,
        ):
            count += 1
            image = None
            if page.image is not None and page.image.exists():
                image_key = derivative_key(asset.sha256, f"pages/{page.page_no:05d}.jpg")
                info = store.put_file(image_key, page.image, content_type="image/jpeg")
                image = (image_key, info.sha256 or "", info.size)
                page.image.unlink()
            _write_page(
                settings,
                item_id=item.id or 0,
                asset=asset,
                page=page,
                key=key,
                engine=engine_label if page.method == "ocr" else "pdf text layer",
                image=image,
            )
            hocr.add(page)
            if page.hocr is not None:
                page.hocr.unlink(missing_ok=True)
            if page.pdf is not None:
                parts.append(page.pdf)
            if page.status == "failed":
                failed.append({"page": page.page_no, "reason": page.error})
            if not outcome.excerpt and page.text.strip():
                outcome.excerpt = page.text
            report("ocr", item_id=item.id, page=page.page_no)
            publish_progress(store, item.id or 0, {"stage": "ocr", "pages_done": page.page_no})
    if hocr.count:
        _store_derivative(
            settings,
            store,
            source=asset,
            role="hocr",
            path=hocr.path,
            name="ocr.hocr",
            media_type="text/vnd.hocr+html",
        )
    if parts:
        pdf = ocr.merge_pdfs(parts, workdir / "searchable.pdf")
        _store_derivative(
            settings,
            store,
            source=asset,
            role="pdf",
            path=pdf,
            name="searchable.pdf",
            media_type="application/pdf",
        )
    with session_scope(settings) as session:
        # pages this master no longer has (none for the same file, kept if corrected)
        session.exec(
            delete(Page).where(
                col(Page.asset_id) == asset.id, col(Page.source_page) > count, col(Page.version) == 0
            )
        )
        current = session.get(Asset, asset.id)
        assert current is not None
        current.tech = {**current.tech, OCR_DONE: key}
        session.add(current)
        crud.add_event(
            session,
            type="optical character recognition",
            item_id=item.id,
            asset_id=asset.id,
            outcome="warning" if failed else "success",
            engine=engine_name,
            version=version,
            options=options,
            pages=count,
            failed_pages=failed,
            seconds=round(time.monotonic() - began, 2),
        )
    outcome.pages += count
    if failed:
        outcome.reason += f"{len(failed)} of {count} pages failed; "


# ---------------------------------------------------------------- ASR


def _asr_choice(settings: Settings) -> tuple[str, str, Path]:
    """Engine name, device and model path for this machine (``auto``: see
    ``tasks.asr.choose_engine``); the model must be installed."""
    name, device = asr.choose_engine(
        settings.asr.engine,
        settings.asr.device,
        openai_checkpoint=models.has_openai(settings.models_path, settings.asr.model),
    )
    return name, device, models.resolve_for(name, settings.models_path, settings.asr.model)


# what builds the ASR engine in its child process (the tests put a stand-in engine here)
ASR_FACTORY = "tasks.asr:load_engine"
_ASR_HOSTS: dict[tuple[str, ...], asr.HostedAsrEngine] = {}


def asr_engine(settings: Settings) -> asr.HostedAsrEngine:
    """The ASR engine for this machine, in a child process of its own (started once per
    process and configuration, and again after a transcription was stopped at its deadline)."""
    name, device, model = _asr_choice(settings)
    key = (name, device, str(model), settings.asr.compute_type, ASR_FACTORY)
    if key not in _ASR_HOSTS:
        compute = settings.asr.compute_type
        _ASR_HOSTS[key] = asr.HostedAsrEngine(name, model, device, compute, factory=ASR_FACTORY)
    return _ASR_HOSTS[key]


def asr_deadline(settings: Settings, duration: float) -> float:
    """Seconds a transcription of ``duration`` seconds may take before it is stopped."""
    return settings.asr.deadline_base + settings.asr.deadline_factor * duration


def _batched(settings: Settings, engine: asr.AsrEngine, duration: float) -> bool:
    """Batched decoding: as configured; ``auto`` for long recordings (the backlog of
    interviews, where batching pays: docs/benchmarks.md) and for every recording on a GPU."""
    if settings.asr.batch != "auto":
        return settings.asr.batch == "on"
    return engine.device == "cuda" or duration >= settings.asr.batch_minutes * 60


_PEOPLE = re.compile(r"\s*[、,，;；/]\s*|\s+(?:and|和|与)\s+")  # between names in a manifest cell


def expected_speakers(settings: Settings, item: Item) -> int:
    """How many voices to tell apart: the configured number, or the people the manifest
    names as narrators (口述者) and interviewers (采集者), when both are named."""
    if settings.asr.speakers:
        return settings.asr.speakers
    narrators = {n for n in _PEOPLE.split(item.narrator.strip()) if n}
    interviewers = {n for n in _PEOPLE.split(item.interviewer.strip()) if n} - narrators
    return len(narrators) + len(interviewers) if narrators and interviewers else 1


def _asr_options(
    settings: Settings, item: Item, coll: Collection, *, batched: bool = False
) -> asr.AsrOptions:
    language = (
        coll.asr_language
        or settings.asr.language
        or LANGUAGE_CODES.get(item.language.strip().lower(), item.language.strip().lower()[:3])
    )
    return asr.AsrOptions.shipped(
        settings.asr,
        language=language or None,
        prompt=coll.vocabulary,
        script=coll.script or settings.asr.script,
        batched=batched,
    )


def _remap(old: list[tuple[int, float, float]], new: list[Segment]) -> dict[int, tuple[int, int]]:
    """Old segment id → (new id for a span starting there, new id for a span ending there),
    by time: what pointed at an old segment points at the new ones covering its time."""
    out: dict[int, tuple[int, int]] = {}
    if not new:
        return out
    for sid, start, end in old:
        first = next((s for s in new if s.end > start), new[-1])
        last = next((s for s in reversed(new) if s.start < end), new[0])
        out[sid] = (first.id or 0, last.id or 0)
    return out


def _write_transcript(
    session: Session,
    *,
    item: Item,
    asset: Asset,
    key: str,
    engine: Any,
    asr_info: Any,
    options: asr.AsrOptions,
    segments: list[asr.AsrSegment],
) -> Transcript:
    """Replace this master's transcript (one short write): the transcript row keeps its id,
    excerpts pointing at its segments follow them by time, and only this part's machine
    flags are replaced (another part's stay)."""
    transcript = session.exec(
        select(Transcript).where(Transcript.asset_id == asset.id).order_by(col(Transcript.id))
    ).first() or Transcript(item_id=item.id or 0, asset_id=asset.id or 0)
    for extra in session.exec(
        select(Transcript).where(Transcript.asset_id == asset.id, Transcript.id != transcript.id)
    ).all():  # older catalogs kept one per run
        session.exec(delete(Segment).where(col(Segment.transcript_id) == extra.id))
        session.delete(extra)
    transcript.language = asr_info.language
    transcript.language_probability = asr_info.language_probability
    transcript.duration = asr_info.duration
    transcript.engine, transcript.model, transcript.model_sha256 = (
        engine.name,
        engine.model_name,
        engine.model_sha256,
    )
    transcript.options, transcript.result_key = options.as_dict(), key
    transcript.status = "ok" if segments else "empty"
    transcript.error = "" if segments else "no speech detected"
    session.add(transcript)
    session.flush()
    old = [
        (s.id or 0, s.start, s.end)
        for s in session.exec(select(Segment).where(Segment.transcript_id == transcript.id)).all()
    ]
    old_ids = [sid for sid, _, _ in old]
    if old_ids:
        session.exec(delete(Flag).where(col(Flag.kind) == "hallucination", col(Flag.segment_id).in_(old_ids)))
        session.exec(delete(Segment).where(col(Segment.transcript_id) == transcript.id))
        session.flush()
    rows = []
    for seq, seg in enumerate(segments):
        row = Segment(
            transcript_id=transcript.id or 0,
            seq=seq,
            start=seg.start,
            end=seg.end,
            text=seg.text,
            raw_text=seg.raw_text,
            confidence=seg.confidence,
            no_speech_prob=seg.no_speech_prob,
            speaker=seg.speaker,
            words=[w.__dict__ for w in seg.words],
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for seg, row in zip(segments, rows, strict=True):
        for category in (f for f in seg.flags if f in DOUBTS):
            session.add(
                Flag(
                    item_id=item.id or 0,
                    kind="hallucination",
                    category=category,
                    segment_id=row.id,
                    start=seg.start,
                    end=seg.end,
                    preview=seg.text[:80],
                )
            )
    moved = _remap(old, rows)
    if moved:
        for ex in session.exec(
            select(Excerpt).where(
                col(Excerpt.segment_from).in_(list(moved)) | col(Excerpt.segment_to).in_(list(moved))
            )
        ).all():
            if ex.segment_from in moved:
                ex.segment_from = moved[ex.segment_from][0]
            if ex.segment_to in moved:
                ex.segment_to = moved[ex.segment_to][1]
            session.add(ex)
        for flag in session.exec(select(Flag).where(col(Flag.segment_id).in_(list(moved)))).all():
            flag.segment_id = moved[flag.segment_id or 0][0]
            session.add(flag)
    return transcript


def _asr_asset(
    settings: Settings,
    store: ObjectStore,
    item: Item,
    coll: Collection,
    asset: Asset,
    work: Path,
    *,
    force: bool,
    outcome: ItemOutcome,
) -> None:
    """Transcribe one master outside any transaction; the result is written in one short
    transaction at the end (the result key makes a re-run of a finished part a no-op)."""
    began = time.monotonic()
    info = media.probe(work)
    outcome.duration += info.duration
    engine = asr_engine(settings)
    options = _asr_options(settings, item, coll, batched=_batched(settings, engine, info.duration))
    speakers = expected_speakers(settings, item)
    # the configured track, or the first that is not silent (-1): part of what the result depends on
    track = settings.asr.track if settings.asr.track >= 0 else media.speech_track(work, info)

    def key_with(voices: int) -> str:
        return result_key(
            sha256=asset.sha256,
            engine=engine.name,
            version=engine.version,
            model=engine.model_sha256,
            compute_type=engine.compute_type,
            **options.as_dict(),
            **({"track": track} if track else {}),  # keys of single-track results stay as they were
            **({"speakers": voices} if voices > 1 else {}),
        )

    key = key_with(speakers)
    with session_scope(settings) as session:
        done = session.exec(
            select(Transcript.id).where(Transcript.asset_id == asset.id, Transcript.result_key == key)
        ).first()
        corrected = session.exec(
            select(Segment.id).join(Transcript).where(Transcript.asset_id == asset.id, Segment.version > 0)
        ).first()
    if done is not None and not force:
        outcome.skipped = True
        return
    if corrected is not None:
        _keep_corrections(settings, item, asset, outcome, "transcription")
        return
    wav = media.to_asr_wav(work, work.parent / "asr.wav", info, track=track)
    access = media.access_copy(work, work.parent / "access.mp4", info, track=track)
    peaks = media.waveform_peaks(work, work.parent / "peaks.json", info, track=track)
    _store_derivative(
        settings,
        store,
        source=asset,
        role="peaks",
        path=peaks,
        name="peaks.json",
        media_type="application/json",
    )
    _store_derivative(
        settings,
        store,
        source=asset,
        role="access",
        path=access,
        name="access.mp4",
        media_type="video/mp4" if info.video else "audio/mp4",
    )
    asr_info, stream = engine.transcribe(wav, options, seconds=asr_deadline(settings, info.duration))
    segments: list[asr.AsrSegment] = []
    dropped: list[asr.AsrSegment] = []
    for seg in stream:
        (dropped if "loop" in seg.flags else segments).append(seg)
        report("transcribe", item_id=item.id, position=seg.end, duration=asr_info.duration)
        fraction = seg.end / asr_info.duration if asr_info.duration else 0.0
        publish_progress(
            store, item.id or 0, {"stage": "transcribe", "fraction": round(min(fraction, 1.0), 3)}
        )
    turns_note = ""
    if speakers > 1 and segments:
        publish_progress(store, item.id or 0, {"stage": "speakers", "fraction": 0.0})
        try:
            segments = asr_speakers.assign(wav, segments, speakers)
        except MissingDependencyError as e:  # the transcript stands; the turns wait for the extra
            turns_note = f"speaker turns not found: {e}"
            outcome.reason += f"{turns_note}; "
            key = key_with(1)  # stored as what it is: a run with the extra redoes it
    with session_scope(settings) as session:
        current = session.get(Asset, asset.id)
        assert current is not None
        current.tech = {**info.as_dict(), "asr_track": track}
        session.add(current)
        _write_transcript(
            session,
            item=item,
            asset=asset,
            key=key,
            engine=engine,
            asr_info=asr_info,
            options=options,
            segments=segments,
        )
        if dropped:  # pure repetition loops are not speech: out of the text, kept in the record
            crud.add_event(
                session,
                type="hallucination removal",
                item_id=item.id,
                asset_id=asset.id,
                outcome="warning",
                dropped=[{"start": s.start, "end": s.end, "text": s.text} for s in dropped],
            )
        crud.add_event(
            session,
            type="transcription",
            item_id=item.id,
            asset_id=asset.id,
            outcome="success" if segments else "warning",
            engine=engine.name,
            version=engine.version,
            model=engine.model_name,
            model_sha256=engine.model_sha256,
            options=options.as_dict(),
            device=engine.device,
            compute_type=engine.compute_type,
            expected_speakers=speakers,
            speakers=sorted({s.speaker for s in segments if s.speaker}),
            speaker_note=turns_note,
            language=asr_info.language,
            segments=len(segments),
            note="" if segments else "no speech detected",
            duration=round(asr_info.duration, 2),
            seconds=round(time.monotonic() - began, 2),
        )
    outcome.segments += len(segments)
    if not segments:
        outcome.reason += "no speech detected; "
    if not outcome.excerpt:
        outcome.excerpt = " ".join(s.text for s in segments)[:200]


# ---------------------------------------------------------------- per item and the flow


@runner.task(retries=2, retry_delay_seconds=BACKOFF, retry_condition_fn=is_transient)
def enrich_item(item_id: int, force: bool = False) -> ItemOutcome:
    """Enrich one item; bad input marks it failed with the reason instead of raising.

    No transaction stays open while OCR or ASR runs: the claim, each page, each transcript,
    each derivative and the final status are short writes of their own, and a heartbeat
    renews the claim meanwhile."""
    settings = get_settings()
    store = open_store(settings)
    started = time.monotonic()
    with session_scope(settings) as session:
        item = session.get(Item, item_id)
        if item is None:
            raise BadInputError(f"no item with id {item_id}")
        reviewed = item.status if item.status in (ItemStatus.in_review, ItemStatus.approved) else None
        claimed = crud.claim_item(
            session,
            item_id=item_id,
            worker=settings.worker.worker_name,
            lease_hours=settings.worker.lease_hours,
        )
        if claimed is None:  # another worker has it
            return ItemOutcome(
                item_id,
                item.reference_code,
                item.kind,
                item.status,
                f"claimed by {item.claimed_by}",
                skipped=True,
            )
        coll = session.get(Collection, item.collection_id)
        assert coll is not None
        masters = crud.masters(session, item_id=item_id)
    outcome = ItemOutcome(item_id, item.reference_code, item.kind, ItemStatus.processing)
    try:
        with Heartbeat(settings, item_id), tempfile.TemporaryDirectory(prefix="lantai-") as tmp:
            for index, asset in enumerate(masters):
                work = Path(tmp) / f"{index}" / "master"
                download(store, asset.key, work, expect_sha256=asset.sha256)  # fixity on every read
                if item.kind == Kind.scan:
                    _ocr_asset(settings, store, item, coll, asset, work, force=force, outcome=outcome)
                elif item.kind == Kind.recording:
                    _asr_asset(settings, store, item, coll, asset, work, force=force, outcome=outcome)
                shutil.rmtree(work.parent, ignore_errors=True)  # one master's files at a time
        with session_scope(settings) as session:
            current = session.get(Item, item_id)
            assert current is not None
            current.status = reviewed or ItemStatus.enriched  # a re-run does not undo review
            current.status_reason = outcome.reason.strip("; ")
            current.progress = 1.0
            session.add(current)
            session.flush()
            screen_item(session, current, term_lists(settings, coll))  # also brings the index up to date
            is_open = current.access == Access.open
    except (BadInputError, EngineTimeout, EngineCrashed) as e:  # this item's input: the next goes on
        with session_scope(settings) as session:
            current = session.get(Item, item_id)
            assert current is not None
            current.status, current.status_reason = ItemStatus.failed, e.message
            session.add(current)
            crud.add_event(session, type="enrichment", item_id=item_id, outcome="failure", reason=e.message)
        outcome.status, outcome.reason = ItemStatus.failed, e.message
    else:
        outcome.status = ItemStatus.enriched
        outcome.reason = outcome.reason.strip("; ")
        if is_open:
            redact_item(item_id)  # an item opened by its manifest still shows only redacted copies
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


def _record_crash(settings: Settings, item_id: int, exc: object) -> ItemOutcome:
    """After the retries are spent: mark the item failed with the reason; the batch goes on."""
    reason = str(exc) if isinstance(exc, BaseException) else "enrichment crashed"
    with session_scope(settings) as session:
        item = session.get(Item, item_id)
        assert item is not None
        item.status, item.status_reason = ItemStatus.failed, reason[:500]
        session.add(item)
        crud.add_event(session, type="enrichment", item_id=item_id, outcome="failure", reason=reason)
        return ItemOutcome(item_id, item.reference_code, item.kind, ItemStatus.failed, reason)


def preflight(settings: Settings, kinds: set[str]) -> None:
    """Check the installation before any work starts, so a missing program or model is one
    clear message (naming the setup command) instead of a failure per item."""
    if Kind.scan in kinds:
        ocr.require(ocr.choose_engine(settings.ocr.engine, settings.ocr.languages), settings.ocr.languages)
        tools.require("pdfunite")
    if Kind.recording in kinds:
        tools.require("ffmpeg")
        tools.require("ffprobe")
        _asr_choice(settings)


def pending_kinds(
    settings: Settings, *, collection: str | None, item_id: int | None, force: bool
) -> set[str]:
    with session_scope(settings) as session:
        ids = crud.items_to_enrich(
            session, collection=collection, item_id=item_id, include_done=force or item_id is not None
        )
        return {item.kind for i in ids if (item := session.get(Item, i)) is not None}


@runner.flow(name="enrich")
def enrich_flow(
    collection: str | None = None, item_id: int | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Enrich every item with pending work (or one item, or everything with ``force``)."""
    log = runner.logger()
    settings = get_settings()
    with session_scope(settings) as session:
        ids = crud.items_to_enrich(
            session, collection=collection, item_id=item_id, include_done=force or item_id is not None
        )
    preflight(settings, pending_kinds(settings, collection=collection, item_id=item_id, force=force))
    outcomes = []
    for index, iid in enumerate(ids):
        report("enrich", done=index, total=len(ids), item_id=iid)
        try:
            outcome = runner.run_task(enrich_item, iid, force)
        except ConfigError:
            raise  # the installation is incomplete: every item would fail the same way
        except Exception as exc:  # after the retries: this item is marked failed, the rest go on
            outcome = _record_crash(settings, iid, exc)
        log.info("item %s %s %s", outcome.reference_code, outcome.status, outcome.reason)
        outcomes.append(outcome.__dict__)
    report("enrich", done=len(ids), total=len(ids), item_id=None)
    if ids:
        run_id = ""
        if runner.in_run():
            from prefect.runtime import flow_run

            run_id = str(flow_run.id or "")
        with session_scope(settings) as session:
            crud.add_event(
                session,
                type="enrichment run",
                outcome="failure" if any(o["status"] == ItemStatus.failed for o in outcomes) else "success",
                flow_run=run_id,
                items=len(outcomes),
                failed=sum(1 for o in outcomes if o["status"] == ItemStatus.failed),
                collection=collection or "",
            )
    return outcomes
