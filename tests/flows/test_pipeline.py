"""Ingest → enrich → search on the embedded defaults, with bad files in the batch, and
ingest from an S3 inbox on a real S3-compatible server."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from minio import Minio
from sqlmodel import select

from catalog import crud
from catalog.db import session_scope
from catalog.models import Asset, Event, Item
from catalog.search import search
from configs import get_settings
from flows.enrich import enrich_flow
from flows.ingest import ingest_flow
from storage import open_store
from tests.conftest import SAMPLES, S3Server, point_at_s3
from tests.flows.conftest import case_files

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

MANIFEST = (
    "文件名,题名,日期,语言,口述者,开放标识\n"
    "网络支付.png,网络支付说明,20150601,中文,,开放\n"
    "jfk 1961 inaugural.flac,Inaugural address,19610120,英语,John F. Kennedy,开放\n"
    "房地产中介协会.wav,房地产录音,2017-13,中文,,\n"
)  # bad date: reported, file still ingested


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    folder = tmp_path / "批次 2024"
    folder.mkdir()
    for name in ("网络支付.png", "jfk 1961 inaugural.flac", "房地产中介协会.wav"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "manifest.csv").write_text(MANIFEST, encoding="gb18030")
    (folder / "empty.tif").touch()
    (folder / "notes.wav").write_text("not audio at all")
    data = (SAMPLES / "网络支付.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 3])
    (folder / "odd\tname.png").write_bytes(data[:100] + b"different")
    return folder


def test_batch_to_searchable_catalog(home: Path, batch: Path) -> None:
    report = ingest_flow(str(batch), "T1", None, None)
    assert report["counts"] == {"ingested": 3, "attached": 0, "duplicate": 0, "quarantined": 4, "failed": 0}
    reasons = " | ".join(r["reason"] for r in report["results"] if r["outcome"] == "quarantined")
    for expected in ("empty file", "unsupported", "truncated", "unusable file name"):
        assert expected in reasons
    assert len(report["manifest_errors"]) == 1 and "line 4" in report["manifest_errors"][0]

    outcomes = enrich_flow("T1")
    assert sorted(o["status"] for o in outcomes) == ["enriched"] * 3
    settings = get_settings()
    with session_scope(settings) as session:
        scan_hits = search(session, "信用卡", include_restricted=True)
        assert scan_hits and scan_hits[0].title == "网络支付说明"
        loc = scan_hits[0].hits[0].location
        assert loc["page"] == 1 and 0 <= loc["bbox"][0] < loc["bbox"][2] <= 300
        talk_hits = search(session, "country", include_restricted=True)
        assert talk_hits[0].title == "Inaugural address"
        said = talk_hits[0].hits[0].location
        assert 0 <= said["start"] < said["end"] <= 11.1
        status = crud.status_report(session)
        assert status["collections"]["T1"]["enriched"] == 3
        assert status["collections"]["T1"]["quarantined"] == 4
        assert {f["status"] for f in status["failures"]} == {"quarantined"}
        kennedy = session.exec(select(Item).where(Item.title == "Inaugural address")).one()
        assert kennedy.narrator == "John F. Kennedy" and kennedy.reference_code.startswith("J001-LY·1961·Y-")
        events = {e.type for e in session.exec(select(Event).where(Event.item_id == kennedy.id))}
        assert {"ingestion", "message digest calculation", "format identification", "transcription"} <= events
        roles = {a.role for a in session.exec(select(Asset).where(Asset.item_id == kennedy.id))}
        assert roles == {"master", "access", "peaks"}  # peaks: the review player's waveform
    store = open_store(settings)
    assert list(store.list("inbox/T1/")) == [
        o for o in store.list("inbox/T1/") if o.key.endswith("manifest.csv")
    ]
    assert len(list(store.list("quarantine/"))) == 4
    masters = list(store.list("masters/"))
    assert len(masters) == 3 and all(m.key.split("/")[2] == m.sha256 for m in masters)

    # the same batch again: nothing new, the duplicates recorded
    again = ingest_flow(str(batch), "T1", None, None)
    assert again["counts"] == {"ingested": 0, "attached": 0, "duplicate": 3, "quarantined": 4, "failed": 0}
    assert enrich_flow("T1") == []
    with session_scope(settings) as session:
        assert len(session.exec(select(Item)).all()) == 7
    assert len(list(open_store(settings).list("masters/"))) == 3


def test_rerun_with_force_skips_finished_work(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.enrich.item as enrich_item

    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SAMPLES / "phototest.tif", folder)
    shutil.copy(SAMPLES / "寄语.wav", folder)
    ingest_flow(str(folder), "T2", None, None)
    fetched: list[str] = []
    real_download = enrich_item.download

    def counting_download(store, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        fetched.append(key)
        return real_download(store, key, *args, **kwargs)

    monkeypatch.setattr(enrich_item, "download", counting_download)
    first = {o["kind"]: o for o in enrich_flow("T2")}
    assert first["scan"]["pages"] == 1 and not first["scan"]["skipped"] and not first["recording"]["skipped"]
    assert len(fetched) == 2
    item_id = first["scan"]["item_id"]
    fetched.clear()
    again = [enrich_flow(None, o["item_id"])[0] for o in first.values()]
    assert all(o["skipped"] for o in again)  # same checksum, engine and options: nothing recomputed
    assert fetched == []  # ... and nothing fetched: the done-check comes before any download
    forced = enrich_flow(None, item_id, True)
    assert not forced[0]["skipped"] and forced[0]["pages"] == 1
    with session_scope(get_settings()) as session:
        from catalog.models import Page

        assert len(session.exec(select(Page).where(Page.item_id == item_id)).all()) == 1
        assert (
            len(session.exec(select(Asset).where(Asset.item_id == item_id, Asset.role == "pdf")).all()) == 1
        )


def test_forced_rerun_keeps_editors_corrections_and_review_status(home: Path, tmp_path: Path) -> None:
    from catalog.models import Page, Revision
    from catalog.review.editing import Editor, edit_page_line, set_status

    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SAMPLES / "phototest.tif", folder)
    ingest_flow(str(folder), "T3", None, None)
    item_id = enrich_flow("T3")[0]["item_id"]
    editor = Editor("ed", "editor")
    with session_scope(get_settings()) as session:
        page = session.exec(select(Page).where(Page.item_id == item_id)).one()
        base = page.lines[0]["text"]
        edit_page_line(
            session, page_id=page.id or 0, line=0, base=base, version=0, text="Corrected by ed", editor=editor
        )
        set_status(session, item_id=item_id, action="approve", editor=editor)
        page_id = page.id
    forced = enrich_flow(None, item_id, True)
    assert not forced[0]["skipped"]  # re-read in place: the page keeps its row and the correction
    with session_scope(get_settings()) as session:
        page = session.exec(select(Page).where(Page.item_id == item_id)).one()
        assert page.id == page_id and page.page_no == 1
        assert page.lines[0]["text"] == "Corrected by ed"
        assert session.get(Item, item_id).status == "approved"  # type: ignore[union-attr]
        history = session.exec(
            select(Revision).where(Revision.target == "page", Revision.target_id == page_id)
        ).all()
        # the machine read the page as before: revision 0 already holds that reading
        assert [r.author for r in sorted(history, key=lambda r: r.number)] == ["machine", "ed"]
        assert min(history, key=lambda r: r.number).after["lines"][0]["text"] == base


def test_ingest_from_s3_inbox(
    home: Path, tmp_path: Path, s3_server: S3Server, bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_s3(monkeypatch, "STORAGE", s3_server, bucket_name)
    open_store(get_settings())  # creates the bucket
    client = Minio(
        s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key, secure=False
    )
    client.fput_object(bucket_name, "inbox/S3/b1/房地产中介协会.wav", str(SAMPLES / "房地产中介协会.wav"))
    client.put_object(
        bucket_name,
        "inbox/S3/b1/manifest.json",
        io.BytesIO('[{"file": "房地产中介协会.wav", "题名": "S3 录音"}]'.encode()),
        -1,
        part_size=5 * 1024 * 1024,
    )
    report = ingest_flow(f"s3://{bucket_name}/inbox/S3/b1/", "S3", None, None)
    assert report["counts"]["ingested"] == 1
    # local files into the same S3 store; the same content under another name is a duplicate
    renamed = tmp_path / "copy of 房地产.wav"
    shutil.copy(SAMPLES / "房地产中介协会.wav", renamed)
    local = ingest_flow([str(SAMPLES / "phototest.tif"), str(renamed)], "S3", None, "b2")
    assert local["counts"] == {"ingested": 1, "attached": 0, "duplicate": 1, "quarantined": 0, "failed": 0}
    assert client.stat_object(
        bucket_name,
        next(
            o.object_name
            for o in client.list_objects(bucket_name, prefix="masters/", recursive=True)
            if o.object_name.endswith("phototest.tif")
        ),
    )
    outcomes = enrich_flow("S3")
    assert outcomes[0]["status"] == "enriched" and outcomes[0]["segments"] >= 1
    with session_scope(get_settings()) as session:
        hits = [h for r in search(session, "协会", include_restricted=True) for h in r.hits]
        spoken = [h for h in hits if h.field == "segment"]
        # the hit plays from the word 协会, within its segment
        assert spoken and spoken[0].title == "S3 录音"
        assert 0.0 < spoken[0].location["start"] < spoken[0].location["end"]


def test_manifest_groups_files_into_items(home: Path, tmp_path: Path) -> None:
    folder = case_files(tmp_path / "案卷")
    report = ingest_flow(str(folder), "G", None, None)
    assert report["counts"] == {"ingested": 2, "attached": 3, "duplicate": 0, "quarantined": 0, "failed": 0}
    settings = get_settings()
    with session_scope(settings) as session:
        record = session.exec(select(Item).where(Item.title == "会议记录")).one()
        interview = session.exec(select(Item).where(Item.reference_code == "J019-LY·2019·Y-007")).one()
        assert [a.original_name for a in crud.masters(session, item_id=record.id or 0)] == [
            "p1.tif",
            "p2.tif",
            "p3.tif",
        ]
        assert len(crud.masters(session, item_id=interview.id or 0)) == 2
    enrich_flow("G")
    with session_scope(settings) as session:
        from catalog.models import Page

        pages = session.exec(select(Page).where(Page.item_id == record.id).order_by(Page.page_no)).all()
        assert [p.page_no for p in pages] == [1, 2, 3]
        (found,) = [
            r for r in search(session, "quick brown", include_restricted=True) if r.item_id == record.id
        ]
        assert found.hit_count == 3 and {h.location["page"] for h in found.hits} == {1, 2, 3}
        # a multi-file item exports whole: one searchable PDF and one hOCR with every file's pages
        import io
        import re

        import pypdfium2 as pdfium

        from flows.export import export_item

        pdf, hocr = io.BytesIO(), io.BytesIO()
        export_item(session, str(record.id), "pdf", pdf)
        export_item(session, str(record.id), "hocr", hocr)
        assert len(pdfium.PdfDocument(pdf.getvalue())) == 3
        doc = hocr.getvalue().decode()
        assert doc.count("class='ocr_page'") + doc.count('class="ocr_page"') == 3
        ids = re.findall(r"""id=['"]([^'"]+)""", doc)
        assert len(ids) == len(set(ids)) and {i.split("_")[0] for i in ids} == {"f1", "f2", "f3"}


def test_re_enriching_an_open_item_never_publishes_a_new_number(home: Path, tmp_path: Path) -> None:
    """An open page whose earlier OCR missed an ID number is re-enriched (--force) and now
    reads it: screening runs in the same transaction that stores the new text, so the
    number is flagged and masked before anything public is built from it."""
    from PIL import Image, ImageDraw, ImageFont
    from sqlmodel import col

    from catalog.models import Access, Flag, Page
    from catalog.review.openreview import decide_access
    from catalog.search import Filters, reindex_item

    number = "11010519491231002X"  # a valid resident ID number
    folder = tmp_path / "证明"
    folder.mkdir()
    img = Image.new("L", (1400, 200), 255)
    ImageDraw.Draw(img).text((40, 60), f"ID {number}", fill=0, font=ImageFont.load_default(size=64))
    img.save(folder / "card.png")
    ingest_flow(str(folder), "RE", None, None)
    enrich_flow("RE")
    settings = get_settings()
    with session_scope(settings) as s:
        item = s.exec(select(Item).where(Item.source_name == "card.png")).one()
        page = s.exec(select(Page).where(Page.item_id == item.id)).one()
        assert number in page.text.replace(" ", ""), page.text  # Tesseract reads it
        # as if an earlier engine had missed the number: no text, no flag; then opened
        page.lines = [{**ln, "text": "ID", "words": []} for ln in page.lines]
        page.text = "ID"
        s.add(page)
        for f in s.exec(select(Flag).where(Flag.item_id == item.id)).all():
            s.delete(f)
        s.flush()
        reindex_item(s, item)
        decide_access(s, item_id=item.id or 0, access=Access.open, reason="reviewed", reviewer="ed", rounds=1)
        item_id = item.id or 0
    enrich_flow("RE", item_id, True)  # re-enrichment reads the number again
    with session_scope(settings) as s:
        flags = s.exec(select(Flag).where(Flag.item_id == item_id, col(Flag.status) == "open")).all()
        assert any(f.category == "id_number" for f in flags)
        public = Filters(audience="public")
        assert search(s, number, filters=public) == [] and search(s, number[-8:], filters=public) == []
        assert search(s, number, include_restricted=True)  # staff still find it


def test_ocr_engine_per_manifest_row(home: Path, tmp_path: Path) -> None:
    """auto reads Chinese with PP-OCR; a row's ocr引擎 chooses Tesseract for its item; the
    engine is in the page rows and the provenance event; a bad value is a row error."""
    from catalog.models import Page
    from tests.conftest import RESOURCES

    folder = tmp_path / "engines"
    folder.mkdir()
    shutil.copy(SAMPLES / "网络支付.png", folder / "a.png")
    shutil.copy(RESOURCES / "two_columns.png", folder / "b.png")
    shutil.copy(SAMPLES / "phototest.tif", folder / "c.tif")
    (folder / "manifest.csv").write_text(
        "文件名,题名,ocr引擎\na.png,甲,tesseract\nb.png,乙,\nc.tif,丙,paddle\n", encoding="utf-8"
    )
    report = ingest_flow(str(folder), "OE", None, None)
    assert len(report["manifest_errors"]) == 1 and "paddle" in report["manifest_errors"][0]
    enrich_flow("OE")
    with session_scope(get_settings()) as session:
        by_title = {i.title: i for i in session.exec(select(Item))}
        engines = {}
        for title in ("甲", "乙"):
            page = session.exec(select(Page).where(Page.item_id == by_title[title].id)).one()
            event = session.exec(
                select(Event).where(
                    Event.item_id == by_title[title].id, Event.type == "optical character recognition"
                )
            ).one()
            engines[title] = (page.engine.split()[0], event.detail["engine"])
            assert page.status == "ok"
        assert engines == {"甲": ("tesseract", "tesseract"), "乙": ("rapidocr", "ppocr")}
        columns = session.exec(select(Page).where(Page.item_id == by_title["乙"].id)).one()
        expected = (RESOURCES / "two_columns.txt").read_text("utf-8").split()
        assert columns.text.split() == expected  # read column by column
        assert search(session, "扎实推进高质量", include_restricted=True)[0].title == "乙"


def test_interview_with_narrator_and_interviewer_gets_speaker_turns(home: Path, tmp_path: Path) -> None:
    """口述者 and 采集者 in the manifest: the transcript's segments carry SPEAKER_1/2 and
    the provenance event says so."""
    import wave

    import numpy as np

    from bench.diarization import RATE, assemble, load
    from catalog.models import Segment, Transcript

    folder = tmp_path / "访谈"
    folder.mkdir()
    a, b = load(SAMPLES / "房地产中介协会.wav", tmp_path), load(SAMPLES / "寄语.wav", tmp_path)
    audio, _ = assemble(a, b, 40, seed=3)
    with wave.open(str(folder / "访谈.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((audio * 32767).astype(np.int16).tobytes())
    (folder / "manifest.csv").write_text(
        "文件名,题名,语言,口述者,采集者\n访谈.wav,老街坊访谈,中文,王某某,李某某\n", encoding="utf-8"
    )
    ingest_flow(str(folder), "IV", None, None)
    (outcome,) = enrich_flow("IV")
    assert outcome["status"] == "enriched"
    with session_scope(get_settings()) as session:
        transcript = session.exec(select(Transcript)).one()
        rows = session.exec(
            select(Segment).where(Segment.transcript_id == transcript.id).order_by(Segment.seq)
        )
        labels = [s.speaker for s in rows]
        event = session.exec(select(Event).where(Event.type == "transcription")).one()
    assert set(labels) == {"SPEAKER_1", "SPEAKER_2"} and labels[0] == "SPEAKER_1"
    assert event.detail["speakers"] == ["SPEAKER_1", "SPEAKER_2"] and event.detail["compute_type"] == "int8"
    assert enrich_flow("IV") == []  # finished: nothing to redo


def test_interview_without_the_torch_extra_keeps_its_transcript(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No voice encoder installed: the transcript is stored with one speaker, and the
    report and the event say why (nothing fails)."""
    from catalog.models import Segment
    from configs.errors import MissingDependencyError
    from tasks.asr import speakers

    def missing(device: str = "cpu") -> None:
        raise MissingDependencyError("speaker turns need the PyTorch extra", hint="pip install …")

    monkeypatch.setattr(speakers, "encoder", missing)
    folder = tmp_path / "iv"
    folder.mkdir()
    shutil.copy(SAMPLES / "寄语.wav", folder / "a.wav")
    (folder / "manifest.csv").write_text(
        "文件名,题名,口述者,采集者\na.wav,寄语,王某某,李某某\n", encoding="utf-8"
    )
    ingest_flow(str(folder), "NX", None, None)
    (outcome,) = enrich_flow("NX")
    assert outcome["status"] == "enriched" and "PyTorch extra" in outcome["reason"]
    with session_scope(get_settings()) as session:
        assert {s.speaker for s in session.exec(select(Segment))} == {""}
        event = session.exec(select(Event).where(Event.type == "transcription")).one()
    assert "PyTorch extra" in event.detail["speaker_note"] and event.detail["speakers"] == []
