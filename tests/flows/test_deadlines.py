"""No engine call can hold a worker: a transcription that never ends is stopped at its
deadline (its engine runs in a child process, which is killed), the item is failed with the
reason and its claim released, and the next item of the same run is enriched. The same for
an OCR page in PP-OCR's child process."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from catalog import crud
from catalog.db import get_engine
from catalog.models import Event, Item, ItemStatus, Segment, Transcript
from configs import get_settings
from flows.enrich import enrich_flow, recordings
from flows.ingest import ingest_flow
from tests.conftest import SAMPLES


def test_a_transcription_that_never_ends_is_stopped_and_the_run_goes_on(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recordings, "ASR_FACTORY", "tests.flows.stuck_engine:build")
    monkeypatch.setenv("LANTAI_TEST_STUCK_MARKER", str(tmp_path / "stuck-once"))
    monkeypatch.setenv("LANTAI_ASR__DEADLINE_BASE", "4")
    monkeypatch.setenv("LANTAI_ASR__DEADLINE_FACTOR", "0")
    get_settings.cache_clear()
    folder = tmp_path / "talks"
    folder.mkdir()
    shutil.copy(SAMPLES / "寄语.wav", folder / "a_first.wav")
    shutil.copy(SAMPLES / "房地产中介协会.wav", folder / "b_second.wav")
    ingest_flow(str(folder), "DL", None, None)
    began = time.monotonic()
    outcomes = enrich_flow("DL")
    took = time.monotonic() - began
    assert [o["status"] for o in outcomes] == [ItemStatus.failed, ItemStatus.enriched]
    assert outcomes[0]["reason"] == "timed out after 4 s while transcribing in stuck-once: stopped"
    assert took < 120, took  # stopped at its deadline, not waited out
    with Session(get_engine(get_settings().db_url)) as s:
        first, second = s.exec(select(Item).order_by(Item.id)).all()  # type: ignore[arg-type]
        assert first.status == ItemStatus.failed and "timed out" in first.status_reason
        # the claim is released: another worker may take the item (a retry) at once
        assert crud.claim_item(s, item_id=first.id or 0, worker="another", lease_hours=6) is not None
        s.rollback()
        texts = s.exec(select(Segment.text).join(Transcript).where(Transcript.item_id == second.id)).all()
        assert texts == ["第二段录音转写完成"]
        failure = s.exec(select(Event).where(Event.item_id == first.id, Event.outcome == "failure")).one()
        assert "timed out" in failure.detail["reason"]
    # nothing of the stopped engine is left running
    import multiprocessing

    host = next(iter(recordings._ASR_HOSTS.values()))
    fresh = host.host._proc
    assert fresh is not None and fresh.is_alive()  # a fresh child served the second recording
    engines = [p for p in multiprocessing.active_children() if p.name == fresh.name]
    assert engines == [fresh]  # the stopped one is gone: killed and reaped, not left running
    for h in recordings._ASR_HOSTS.values():
        h.close()
    recordings._ASR_HOSTS.clear()
    assert not [p for p in multiprocessing.active_children() if p.name == fresh.name]


@pytest.mark.slow
def test_the_hanging_clip_enriches_with_openai_whisper_and_vad(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 33's hanging clip, through `enrich` as a user runs it: openai-whisper, VAD on,
    speech to the last sample cut 117 samples into a mel frame. It completes (the regions
    are clamped), well inside its deadline."""
    import wave

    from tasks import media, models
    from tasks.asr.vad import HOP, read_all
    from tests.conftest import MODELS

    root = tmp_path / "models"
    root.mkdir()
    (root / "base").symlink_to(models.resolve(MODELS, "base"), target_is_directory=True)
    models.install_openai(root, "base")
    for key, value in {"LANTAI_MODELS_DIR": str(root), "LANTAI_ASR__ENGINE": "openai-whisper",
                       "LANTAI_ASR__DEVICE": "cpu", "LANTAI_ASR__VAD": "true",
                       "LANTAI_ASR__LANGUAGE": "zh"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    src = SAMPLES / "寄语.wav"
    audio = read_all(media.to_asr_wav(src, tmp_path / "a.wav", media.probe(src)))
    cut = audio[: (len(audio) // 2 // HOP) * HOP + 117]
    folder = tmp_path / "clip"
    folder.mkdir()
    with wave.open(str(folder / "cut.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((cut * 32767).astype("<i2").tobytes())
    ingest_flow(str(folder), "HANG", None, None)
    began = time.monotonic()
    [outcome] = enrich_flow("HANG")
    assert outcome["status"] == ItemStatus.enriched, outcome["reason"]
    assert time.monotonic() - began < 300
    with Session(get_engine(get_settings().db_url)) as s:
        text = "".join(s.exec(select(Segment.text)).all())
        engine = s.exec(select(Transcript.engine)).one()
    assert text and engine == "openai-whisper"
    for h in recordings._ASR_HOSTS.values():
        h.close()
    recordings._ASR_HOSTS.clear()
