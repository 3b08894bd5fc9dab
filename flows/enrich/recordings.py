"""Transcription of a recording: the engine (in its child process, with a deadline), the options
the shipped settings and the collection decide, access copy and waveform, speaker turns, and
the transcript written in one short transaction."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, delete, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import (
    Asset,
    AssetRole,
    Collection,
    EventType,
    Excerpt,
    Flag,
    Item,
    Segment,
    Transcript,
)
from configs import Settings
from configs.errors import MissingDependencyError
from flows.enrich.common import (
    DOUBTS,
    ItemOutcome,
    keep_corrections,
    publish_progress,
    result_key,
    store_derivative,
)
from flows.progress import report
from storage import ObjectStore
from tasks import asr, media
from tasks.asr import speakers as asr_speakers

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


# ---------------------------------------------------------------- ASR


def asr_choice(settings: Settings) -> tuple[str, str, Path]:
    """Engine name, device and model path for this machine (``auto``: see
    ``tasks.asr.choose_engine``); the model must be installed."""
    models_dir, model = settings.models_path, settings.asr.model
    name, device = asr.choose_engine(
        settings.asr.engine, settings.asr.device, installed=lambda n: asr.spec(n).installed(models_dir, model)
    )
    return name, device, asr.spec(name).model(models_dir, model)


# what builds the ASR engine in its child process (the tests put a stand-in engine here)
ASR_FACTORY = "tasks.asr:load_engine"
_ASR_HOSTS: dict[tuple[str, ...], asr.HostedAsrEngine] = {}


def asr_engine(settings: Settings) -> asr.HostedAsrEngine:
    """The ASR engine for this machine, in a child process of its own (started once per
    process and configuration, and again after a transcription was stopped at its deadline)."""
    name, device, model = asr_choice(settings)
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


@dataclass
class AsrStep:
    """The transcription of one master as planned: the engine, the recording's technical
    facts and track, the decoding options, the voices expected, and the result key."""

    asset: Asset
    engine: asr.HostedAsrEngine
    info: media.MediaInfo
    track: int
    options: asr.AsrOptions
    speakers: int

    def key(self, voices: int | None = None) -> str:
        voices = self.speakers if voices is None else voices
        engine = self.engine
        return result_key(
            sha256=self.asset.sha256,
            engine=engine.name,
            version=engine.version,
            model=engine.model_sha256,
            compute_type=engine.compute_type,
            **self.options.as_dict(),
            **({"track": self.track} if self.track else {}),  # keys of single-track results stay as they were
            **({"speakers": voices} if voices > 1 else {}),
        )


def known_media(settings: Settings, asset: Asset) -> tuple[media.MediaInfo, int] | None:
    """The recording's technical facts and speech track as an earlier transcription stored
    them (``asset.tech``), so the done-check needs no download; None if never transcribed."""
    tech = asset.tech or {}
    if "asr_track" not in tech or "duration" not in tech:
        return None
    fields = ("container", "duration", "size", "bit_rate", "audio", "video")
    info = media.MediaInfo(**{f: tech.get(f) for f in fields})  # type: ignore[arg-type]
    track = settings.asr.track if settings.asr.track >= 0 else int(tech["asr_track"])
    return info, track


def probe_media(settings: Settings, work: Path) -> tuple[media.MediaInfo, int]:
    """The fetched recording's technical facts, and its track: the configured one, or the
    first that is not silent — part of what the result depends on."""
    info = media.probe(work)
    return info, settings.asr.track if settings.asr.track >= 0 else media.speech_track(work, info)


def plan_asr(
    settings: Settings,
    item: Item,
    coll: Collection,
    asset: Asset,
    facts: tuple[media.MediaInfo, int],
    *,
    force: bool,
    outcome: ItemOutcome,
) -> AsrStep | None:
    """What transcribing this master needs, or None when nothing is to be done: a
    transcript with the same result key exists, or editors corrected the current one (kept,
    with a note)."""
    info, track = facts
    engine = asr_engine(settings)
    options = _asr_options(settings, item, coll, batched=_batched(settings, engine, info.duration))
    step = AsrStep(asset, engine, info, track, options, expected_speakers(settings, item))
    key = step.key()
    with session_scope(settings) as session:
        done = session.exec(
            select(Transcript.id).where(Transcript.asset_id == asset.id, Transcript.result_key == key)
        ).first()
        corrected = session.exec(
            select(Segment.id).join(Transcript).where(Transcript.asset_id == asset.id, Segment.version > 0)
        ).first()
    if done is not None and not force:
        outcome.skipped = True
        return None
    if corrected is not None:
        keep_corrections(settings, item, asset, outcome, "transcription")
        return None
    return step


def run_asr(
    settings: Settings, store: ObjectStore, item: Item, step: AsrStep, work: Path, *, outcome: ItemOutcome
) -> None:
    """Transcribe the fetched master outside any transaction; the result is written in one
    short transaction at the end (the result key makes a re-run of a finished part a no-op)."""
    began = time.monotonic()
    asset, engine, info, track, options, speakers = (
        step.asset, step.engine, step.info, step.track, step.options, step.speakers
    )  # fmt: skip
    key = step.key()
    wav = media.to_asr_wav(work, work.parent / "asr.wav", info, track=track)
    access = media.access_copy(work, work.parent / "access.mp4", info, track=track)
    peaks = media.waveform_peaks(work, work.parent / "peaks.json", info, track=track)
    store_derivative(
        settings,
        store,
        source=asset,
        role=AssetRole.peaks,
        path=peaks,
        name="peaks.json",
        media_type="application/json",
    )
    store_derivative(
        settings,
        store,
        source=asset,
        role=AssetRole.access,
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
            key = step.key(1)  # stored as what it is: a run with the extra redoes it
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
                type=EventType.hallucination_removal,
                item_id=item.id,
                asset_id=asset.id,
                outcome="warning",
                dropped=[{"start": s.start, "end": s.end, "text": s.text} for s in dropped],
            )
        crud.add_event(
            session,
            type=EventType.transcription,
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
