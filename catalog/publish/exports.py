"""Record exports that need only the catalog: plain text, WebVTT, SRT, JSON, Dublin Core,
OHMS, and a collection's catalogue (DA/T 22) as CSV or XLSX and its records as JSON Lines."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from catalog import crud
from catalog.models import AssetRole, Item
from catalog.parts import Part, recording_parts, segments_of


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _timed(session: Session, item: Item) -> list[tuple[Part, Any]]:
    """(part, segment) of every part in file order."""
    return [(p, seg) for p in recording_parts(session, item.id or 0) for seg in segments_of(session, p)]


def to_txt(session: Session, item: Item) -> str:
    """Page text (with page headings) or the transcript with timestamps."""
    text = crud.item_text(session, item_id=item.id or 0)
    out = [f"{item.reference_code}  {item.title}", ""]
    for page in text["pages"]:
        out += [f"--- 第 {page.page_no} 页 / page {page.page_no} ---", page.text, ""]
    timed = _timed(session, item)
    several = len({p.number for p, _ in timed}) > 1
    shown = 0
    for part, seg in timed:
        if several and part.number != shown:  # times are within each part's own file
            out += ([""] if shown else []) + [
                f"--- 第 {part.number} 部分 / part {part.number}: {part.name} ---"
            ]
            shown = part.number
        speaker = f"{seg.speaker}: " if seg.speaker else ""
        out.append(f"[{_clock(seg.start, '.')[:-4]}] {speaker}{seg.text}")
    return "\n".join(out).rstrip() + "\n"


def vtt_escape(text: str) -> str:
    """Cue text for WebVTT: & < > as character references (no markup from the text), one
    line, and never the cue-timing arrow."""
    text = " ".join(text.splitlines())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(session: Session, item: Item) -> str:
    """WebVTT on one time line: the cues of part 2 start where part 1 ends (its duration
    added), so the cues of a multi-part recording never overlap."""
    out = ["WEBVTT", ""]
    for n, (part, seg) in enumerate(_timed(session, item), 1):
        voice = f"<v {vtt_escape(seg.speaker)}>" if seg.speaker else ""
        start, end = part.offset + seg.start, part.offset + seg.end
        out += [
            str(n),
            f"{_clock(start, '.')} --> {_clock(end, '.')}",
            voice + vtt_escape(seg.text),
            "",
        ]
    return "\n".join(out)


def to_srt(session: Session, item: Item) -> str:
    out = []
    for n, (part, seg) in enumerate(_timed(session, item), 1):  # one time line, as WebVTT
        start, end = part.offset + seg.start, part.offset + seg.end
        out += [str(n), f"{_clock(start, ',')} --> {_clock(end, ',')}", seg.text, ""]
    return "\n".join(out)


def to_json(session: Session, item: Item) -> str:
    """The full record: description, assets, pages with lines, transcripts with segments, events."""
    from sqlmodel import select

    from catalog.models import Asset, Collection, Event

    text = crud.item_text(session, item_id=item.id or 0)
    coll = session.get(Collection, item.collection_id)
    record = {
        "item": item.model_dump(mode="json"),
        "collection": coll.code if coll else None,
        "assets": [
            a.model_dump(mode="json")
            for a in session.exec(select(Asset).where(Asset.item_id == item.id)).all()
        ],
        "pages": [p.model_dump(mode="json") for p in text["pages"]],
        "transcripts": [
            {
                **t.model_dump(mode="json"),
                "segments": [s.model_dump(mode="json") for s in text["segments"][t.id]],
            }
            for t in text["transcripts"]
        ],
        "events": [
            e.model_dump(mode="json")
            for e in session.exec(select(Event).where(Event.item_id == item.id)).all()
        ],
    }
    return json.dumps(record, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- Dublin Core and DA/T 22

DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_TYPE = {"scan": "Text", "recording": "Sound", "other": "Dataset"}


def _iso_date(value: str) -> str:
    """YYYYMMDD (or a range) as ISO 8601: 2019-03-15, 2019-03, 2019, 1961-01-20/1961-01-21."""

    def one(part: str) -> str:
        return "-".join(p for p in (part[:4], part[4:6], part[6:8]) if p)

    return "/".join(one(p) for p in value.split("-")) if value else ""


def to_dc(session: Session, item: Item) -> str:
    """The item as simple Dublin Core (oai_dc) XML, mapped from its DA/T 18 description."""
    import xml.etree.ElementTree as ET

    from sqlmodel import select

    from catalog.models import Asset, Collection

    ET.register_namespace("oai_dc", OAI_DC_NS)
    ET.register_namespace("dc", DC_NS)
    root = ET.Element(f"{{{OAI_DC_NS}}}dc")

    def add(name: str, value: str) -> None:
        if value and value.strip():
            ET.SubElement(root, f"{{{DC_NS}}}{name}").text = value.strip()

    coll = session.get(Collection, item.collection_id)
    master = session.exec(
        select(Asset).where(Asset.item_id == item.id, Asset.role == AssetRole.master)
    ).first()
    add("identifier", item.reference_code)  # 档号
    add("title", item.title)  # 题名
    add("creator", item.narrator or item.creator)  # 口述者 / 责任者
    if item.narrator and item.creator and item.creator != item.narrator:
        add("creator", item.creator)
    add("contributor", item.interviewer)  # 采集者
    add("date", _iso_date(item.date))  # 日期
    add("description", item.abstract)  # 范围和提要
    for subject in item.subject.replace("；", ";").split(";"):
        add("subject", subject)  # 主题词
    for person in item.people.replace("；", ";").split(";"):
        add("subject", person)  # 人名
    add("coverage", item.place or item.collected_place)  # 地点 / 采集地点
    add("language", item.language)  # 语言
    add("type", DC_TYPE.get(item.kind, "Dataset"))
    add("format", master.media_type if master else "")
    add("source", item.source_name)
    add("relation", f"{coll.code} {coll.name}" if coll else "")
    rights = [f"开放标识: {item.access}"] + ([f"密级: {item.classification}"] if item.classification else [])
    add("rights", "; ".join(rights))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


DAT22_COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")


def _collection(session: Session, code: str) -> Any:
    from sqlmodel import select

    from catalog.models import Collection

    coll = session.exec(select(Collection).where(Collection.code == code)).first()
    if coll is None:
        from configs.errors import BadInputError

        raise BadInputError(f"no collection with code {code!r}", hint="see lantai status")
    return coll


def _collection_items(session: Session, code: str) -> list[Item]:
    from sqlmodel import col, select

    coll = _collection(session, code)
    return list(
        session.exec(select(Item).where(Item.collection_id == coll.id).order_by(col(Item.reference_code)))
    )


def dat22_rows(session: Session, code: str) -> list[list[Any]]:
    """The collection's catalogue rows under ``DAT22_COLUMNS`` (案卷/卷内目录 of DA/T 22)."""
    from sqlmodel import col, func, select

    from catalog.models import Page

    pages = dict(session.exec(select(Page.item_id, func.count()).group_by(col(Page.item_id))).all())
    return [
        [
            n,
            item.reference_code,
            item.extra.get("document_number", ""),
            item.creator or item.narrator,
            item.title,
            item.date,
            item.classification,
            pages.get(item.id or 0, "") or "",
            item.notes,
        ]
        for n, item in enumerate(_collection_items(session, code), 1)
    ]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab, CR) gets a
    leading apostrophe, as OWASP recommends for CSV injection; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def collection_csv(session: Session, code: str) -> str:
    """The collection's catalogue as CSV with a UTF-8 BOM, so that spreadsheet programs
    open the Chinese text correctly."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(DAT22_COLUMNS)
    writer.writerows([spreadsheet_cell(v) for v in row] for row in dat22_rows(session, code))
    return "\ufeff" + buffer.getvalue()


def collection_xlsx(session: Session, code: str) -> bytes:
    """The collection's catalogue as an Excel workbook (one sheet, a header row, widths set)."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    coll = _collection(session, code)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "卷内目录"[:31]
    ws.append(list(DAT22_COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True, name="SimSun")
    for row in dat22_rows(session, code):
        ws.append([spreadsheet_cell(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
    for letter, width in zip("ABCDEFGHI", (6, 24, 14, 18, 40, 12, 8, 6, 30), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    wb.properties.title = f"{coll.code} {coll.name} 卷内目录"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def collection_jsonl(session: Session, code: str) -> str:
    """Every record of the collection as JSON Lines (one full record per line)."""
    return "".join(
        json.dumps(json.loads(to_json(session, item)), ensure_ascii=False) + "\n"
        for item in _collection_items(session, code)
    )


# ---------------------------------------------------------------- OHMS


def to_ohms(session: Session, item: Item) -> str:
    """An OHMS-style (Oral History Metadata Synchronizer) record: description, the
    transcript with [hh:mm:ss] sync marks, and an index with one point per segment."""
    import xml.etree.ElementTree as ET

    root = ET.Element("ROOT")
    rec = ET.SubElement(root, "record", id=item.reference_code, dt=_iso_date(item.date).split("/")[0])

    def add(parent: ET.Element, name: str, text: str, attrs: dict[str, str] | None = None) -> ET.Element:
        el = ET.SubElement(parent, name, attrs or {})
        el.text = text
        return el

    add(rec, "version", "5")
    add(rec, "date", "", {"format": "yyyy-mm-dd", "value": _iso_date(item.date).split("/")[0]})
    add(rec, "date_nonpreferred_format", item.date)
    add(rec, "cms_record_id", str(item.id))
    add(rec, "title", item.title)
    add(rec, "accession", item.reference_code)
    add(rec, "interviewee", item.narrator)
    add(rec, "interviewer", item.interviewer)
    add(rec, "repository", "")
    add(rec, "language", item.language)
    add(rec, "subject", item.subject)
    add(rec, "keyword", item.people)
    add(rec, "description", item.abstract)
    add(rec, "rights", f"开放标识: {item.access}")
    add(rec, "usage", item.consent)
    add(rec, "location", item.collected_place or item.place)
    timed = _timed(session, item)  # one time line across parts, as WebVTT
    duration = max((p.offset + seg.end for p, seg in timed), default=0.0)
    add(rec, "duration", _clock(duration, ".")[:8])
    lines = []
    for part, seg in timed:
        speaker = f"{seg.speaker}: " if seg.speaker else ""
        lines.append(f"[{_clock(part.offset + seg.start, '.')[:8]}] {speaker}{seg.text}")
    add(rec, "transcript", "\n".join(lines))
    index = ET.SubElement(rec, "index")
    for part, seg in timed:
        point = ET.SubElement(index, "point")
        add(point, "time", str(int(part.offset + seg.start)))
        add(point, "title", seg.text[:40])
        add(point, "partial_transcript", seg.text)
        add(point, "synopsis", "")
        add(point, "keywords", seg.speaker)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
