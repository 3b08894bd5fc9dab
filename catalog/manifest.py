"""Batch manifests (CSV or JSON) describing the files of a batch with DA/T 18 / DA/T 59 fields.

Headers may be Chinese (档号, 题名, …) or English (reference_code, title, …). Files in UTF-8
(with or without BOM) and GB18030 are read. A broken row is reported with its line number
and skipped; it never stops the batch.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from catalog.models import Access
from catalog.refcode import validate as validate_refcode
from configs.errors import BadInputError

# Accepted headers → Item field names.
HEADERS = {
    "文件名": "file",
    "文件": "file",
    "file": "file",
    "filename": "file",
    "path": "file",
    "档号": "reference_code",
    "reference_code": "reference_code",
    "件号": "item",
    "item": "item",
    "题名": "title",
    "title": "title",
    "责任者": "creator",
    "creator": "creator",
    "日期": "date",
    "date": "date",
    "地点": "place",
    "place": "place",
    "人名": "people",
    "people": "people",
    "语言": "language",
    "language": "language",
    "主题词": "subject",
    "关键词": "subject",
    "subject": "subject",
    "范围和提要": "abstract",
    "abstract": "abstract",
    "保管期限": "retention",
    "retention": "retention",
    "开放标识": "access",
    "access": "access",
    "密级": "classification",
    "classification": "classification",
    "附注": "notes",
    "备注": "notes",
    "notes": "notes",
    "口述者": "narrator",
    "narrator": "narrator",
    "采集者": "interviewer",
    "interviewer": "interviewer",
    "采集时间": "collected_at",
    "collected_at": "collected_at",
    "采集地点": "collected_place",
    "collected_place": "collected_place",
    "授权": "consent",
    "consent": "consent",
    "生成方式": "generation",
    "generation": "generation",
    "ocr语言": "ocr_languages",
    "ocr_languages": "ocr_languages",
}
RETENTION = {"Y": "Y", "D30": "D30", "D10": "D10", "永久": "Y", "30年": "D30", "10年": "D10"}
MANIFEST_NAMES = ("manifest.csv", "manifest.json", "清单.csv", "清单.json")


@dataclass
class ManifestRow:
    line: int
    file: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    rows: dict[str, ManifestRow] = field(default_factory=dict)  # by file name as written
    errors: list[str] = field(default_factory=list)

    def row_for(self, relative: str) -> ManifestRow | None:
        """The row naming this file by its path in the batch, or by its base name."""
        if relative in self.rows:
            return self.rows[relative]
        base = relative.rsplit("/", 1)[-1]
        return self.rows.get(base)


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInputError("the manifest is neither UTF-8 nor GB18030 text")


def check_text(name: str, value: str) -> str:
    """A description value without control characters (terminal escape sequences, NUL…);
    tabs and line breaks are allowed in the multi-line fields."""
    allowed = "\t\n\r" if name in ("abstract", "notes") else ""
    bad = next((ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in allowed), None)
    if bad is not None:
        raise BadInputError(f"{name} contains a control character (U+{ord(bad):04X}): remove it")
    return value


def _clean(line: int, raw: dict[str, object]) -> ManifestRow:
    fields: dict[str, str] = {}
    for key, value in raw.items():
        name = HEADERS.get(str(key).strip().lower()) if key is not None else None
        if name and value is not None and str(value).strip():
            fields[name] = check_text(name, str(value).strip())
    file = fields.pop("file", "")
    if not file:
        raise BadInputError("no file name (column 文件名 or file)")
    if "reference_code" in fields:
        fields["reference_code"] = validate_refcode(fields["reference_code"])
    if "retention" in fields:
        value = RETENTION.get(fields["retention"], fields["retention"])
        if value not in ("Y", "D30", "D10"):
            raise BadInputError(f"保管期限 {fields['retention']!r} is not Y, D30 or D10")
        fields["retention"] = str(value)
    if "access" in fields and fields["access"] not in {a.value for a in Access}:
        raise BadInputError(f"开放标识 {fields['access']!r} is not one of 开放, 控制, 延期, 未审核")
    if "date" in fields:
        fields["date"] = validate_date(fields["date"])
    return ManifestRow(line, file, fields)


def validate_date(value: str) -> str:
    """DA/T 18 dates: YYYYMMDD (or YYYYMM, YYYY), or a range joined by '-'."""
    value = re.sub(
        r"(\d{4})年(?:(\d{1,2})月(?:(\d{1,2})日)?)?",
        lambda m: m[1] + (m[2] or "").zfill(2 if m[2] else 0) + (m[3] or "").zfill(2 if m[3] else 0),
        value.strip(),
    )
    value = value.replace("/", "").replace(".", "")
    parts = value.split("-") if len(value) > 8 else [value.replace("-", "")]
    for part in parts:
        if not (part.isdigit() and len(part) in (4, 6, 8)):
            raise BadInputError(f"日期 {value!r} is not YYYYMMDD (or a range YYYYMMDD-YYYYMMDD)")
        if len(part) >= 6 and not 1 <= int(part[4:6]) <= 12:
            raise BadInputError(f"日期 {value!r} has month {part[4:6]}")
        if len(part) == 8 and not 1 <= int(part[6:8]) <= 31:
            raise BadInputError(f"日期 {value!r} has day {part[6:8]}")
    return "-".join(parts)


def parse(data: bytes, *, name: str) -> Manifest:
    """Parse manifest bytes. Row errors are collected, not raised; a file that is not a
    manifest at all raises BadInputError."""
    text = decode(data)
    manifest = Manifest()
    records: list[tuple[int, dict[str, object]]]
    if name.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInputError(f"manifest {name} is not valid JSON: {e}") from e
        items = doc.get("items", doc.get("files")) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise BadInputError(f"manifest {name}: expected a list of objects (or {{'items': [...]}})")
        records = [(i + 1, r if isinstance(r, dict) else {}) for i, r in enumerate(items)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        records = []
        try:
            for cells in reader:
                if None in cells:  # more cells than headers
                    manifest.errors.append(f"{name} line {reader.line_num}: more cells than headers")
                    continue
                records.append((reader.line_num, dict(cells)))
        except csv.Error as e:
            manifest.errors.append(f"{name} line {reader.line_num}: {e}")
    for line, raw_row in records:
        try:
            row = _clean(line, raw_row)
        except BadInputError as e:
            manifest.errors.append(f"{name} line {line}: {e.message}")
            continue
        if row.file in manifest.rows:
            manifest.errors.append(
                f"{name} line {line}: {row.file} is already described on line {manifest.rows[row.file].line}"
            )
            continue
        manifest.rows[row.file] = row
    return manifest


def read(path: Path) -> Manifest:
    return parse(path.read_bytes(), name=path.name)
