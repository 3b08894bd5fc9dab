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

from catalog.fields import BY_NAME, MANIFEST_HEADERS
from catalog.models import Access
from catalog.refcode import validate as validate_refcode
from configs.errors import BadInputError

# Accepted headers → Item field names (from the one field table).
HEADERS = MANIFEST_HEADERS
OCR_ENGINES = ("auto", "ppocr", "tesseract")
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


MAX_BYTES = 16 * 1024 * 1024  # a manifest larger than this is refused (split the batch)
MAX_DEPTH = 32  # JSON nesting deeper than this is refused before parsing


def decode(data: bytes) -> tuple[str, list[int]]:
    """Manifest text from UTF-8, GB18030 or UTF-16 (with its byte-order mark), and the
    1-based numbers of lines that are neither UTF-8 nor GB18030 (left empty, so one bad
    byte costs one row, not the manifest)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as e:
            raise BadInputError(f"the manifest is not valid UTF-16 text: {e.reason}") from e
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), []
        except UnicodeDecodeError:
            continue
    raw = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")

    def ok(line: bytes, encoding: str) -> bool:
        try:
            line.decode(encoding)
            return True
        except UnicodeDecodeError:
            return False

    # the encoding most lines are in is tried first, the other second
    utf8_lines = sum(ok(x, "utf-8") for x in raw)
    order = ("utf-8", "gb18030") if utf8_lines >= sum(ok(x, "gb18030") for x in raw) else ("gb18030", "utf-8")
    lines, bad = [], []
    for n, line in enumerate(raw, 1):
        for encoding in order:
            if ok(line, encoding):
                lines.append(line.decode(encoding))
                break
        else:
            lines.append("")
            bad.append(n)
    if 1 in bad:
        raise BadInputError("the manifest's header line is neither UTF-8 nor GB18030 text")
    return "\n".join(lines), bad


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def check_text(name: str, value: str) -> str:
    """A description value without control characters (terminal escape sequences, NUL…);
    tabs and line breaks are allowed in the multi-line fields."""
    allowed = "\t\n\r" if name in BY_NAME and BY_NAME[name].multiline else ""
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
    parts = file.replace("\\", "/").split("/")
    if file.startswith(("/", "\\")) or ".." in parts or (len(file) > 1 and file[1] == ":"):
        raise BadInputError(f"{file!r} names a file outside the batch: rows describe the batch's own files")
    if "reference_code" in fields:
        fields["reference_code"] = validate_refcode(fields["reference_code"])
    if "retention" in fields:
        value = RETENTION.get(fields["retention"], fields["retention"])
        if value not in ("Y", "D30", "D10"):
            raise BadInputError(f"保管期限 {fields['retention']!r} is not Y, D30 or D10")
        fields["retention"] = str(value)
    if "access" in fields and fields["access"] not in {a.value for a in Access}:
        raise BadInputError(f"开放标识 {fields['access']!r} is not one of 开放, 控制, 延期, 未审核")
    for name in ("date", "collected_at"):
        if name in fields:
            fields[name] = validate_date(fields[name], label=BY_NAME[name].zh)
    if "language" in fields:
        fields["language"] = validate_language(fields["language"])
    if "ocr_engine" in fields:
        fields["ocr_engine"] = fields["ocr_engine"].lower()
        if fields["ocr_engine"] not in OCR_ENGINES:
            raise BadInputError(f"ocr引擎 {fields['ocr_engine']!r} is not one of {', '.join(OCR_ENGINES)}")
    return ManifestRow(line, file, fields)


def validate_language(value: str) -> str:
    """语言: names or codes of languages (汉语, 粤语, zh, chi_sim, en-US), separated by
    ;，、/ or spaces — letters of any script, never digits or other signs (so the field, which
    the public facet lists, cannot carry a number)."""
    value = value.strip()
    if len(value) > 100 or not _LANGUAGE.fullmatch(value):
        raise BadInputError(f"语言 {value[:40]!r} is not a list of language names or codes (letters only)")
    return value


_LANGUAGE = re.compile(r"[^\W\d_]+(?:[\-_][^\W\d_]+)*(?:\s*[;；,，、/ ]\s*[^\W\d_]+(?:[\-_][^\W\d_]+)*)*")


def validate_date(value: str, *, label: str = "日期") -> str:
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
            raise BadInputError(f"{label} {value!r} is not YYYYMMDD (or a range YYYYMMDD-YYYYMMDD)")
        if len(part) >= 6 and not 1 <= int(part[4:6]) <= 12:
            raise BadInputError(f"{label} {value!r} has month {part[4:6]}")
        if len(part) == 8 and not 1 <= int(part[6:8]) <= 31:
            raise BadInputError(f"{label} {value!r} has day {part[6:8]}")
    return "-".join(parts)


def parse(data: bytes, *, name: str) -> Manifest:
    """Parse manifest bytes. Row errors (a row that does not decode, names a file outside
    the batch, has a bad value) are collected with their line numbers, not raised; a file
    that is not a manifest at all — too large, nested too deep, not JSON or CSV — raises
    BadInputError with the reason."""
    if len(data) > MAX_BYTES:
        raise BadInputError(
            f"manifest {name} is {len(data) / 1e6:.1f} MB, over the {MAX_BYTES // 2**20} MiB limit",
            hint="split the batch into smaller batches, each with its own manifest",
        )
    text, undecodable = decode(data)
    manifest = Manifest()
    records: list[tuple[int, dict[str, object]]]
    if name.lower().endswith(".json"):
        if undecodable:
            raise BadInputError(f"manifest {name}: line {undecodable[0]} is neither UTF-8 nor GB18030 text")
        if json_depth(text) > MAX_DEPTH:
            raise BadInputError(f"manifest {name} is nested deeper than {MAX_DEPTH} levels: not a manifest")
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise BadInputError(f"manifest {name} is not valid JSON: {e}") from e
        items = doc.get("items", doc.get("files")) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise BadInputError(f"manifest {name}: expected a list of objects (or {{'items': [...]}})")
        records = [(i + 1, r if isinstance(r, dict) else {}) for i, r in enumerate(items)]
    else:
        for n in undecodable:
            manifest.errors.append(f"{name} line {n}: neither UTF-8 nor GB18030 text: row skipped")
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
    with path.open("rb") as fh:
        return parse(fh.read(MAX_BYTES + 1), name=path.name)
