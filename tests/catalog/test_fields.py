"""The one field table: every field the public can see is screened, and every place that
names fields takes them from the table."""

from __future__ import annotations

from catalog import fields
from catalog.manifest import HEADERS
from catalog.publish import iiif, oai
from catalog.review import access, editing, screening
from web.i18n import LABELS


def test_every_public_field_is_screened() -> None:
    shown = set(access.PUBLIC_FIELDS) | {name for name, _ in oai.DAT_FIELDS} | set(iiif.LABELS)
    shown |= {"language"}  # the public language facet
    assert shown <= set(screening.SCREENED_FIELDS)
    # 语言, 档号 and 采集时间 were public and unscreened before the table
    assert {"language", "reference_code", "collected_at"} <= set(screening.SCREENED_FIELDS)


def test_labels_and_headers_come_from_the_table() -> None:
    for f in fields.FIELDS:
        assert HEADERS[f.zh.lower()] == f.name and HEADERS[f.name] == f.name
        assert LABELS[f.name] == (f.zh, f.en)
    assert dict(oai.DAT_FIELDS) == {n: fields.LABELS_ZH[n] for n in fields.PUBLIC} == iiif.LABELS
    assert editing.EDITABLE_FIELDS == fields.EDITABLE
    assert HEADERS["数量"] == HEADERS["载体形态"] == "extent"


def test_collected_at_and_language_are_checked_in_a_manifest() -> None:
    from catalog.manifest import parse

    data = "文件名,题名,采集时间,语言\na.wav,访谈,2019年13月1日,汉语\nb.wav,访谈,20190301,13700003333\n"
    m = parse(data.encode(), name="manifest.csv")
    assert not m.rows and len(m.errors) == 2
    assert "采集时间" in m.errors[0] and "语言" in m.errors[1]


def test_the_values_stored_are_the_enums_members() -> None:
    """The free strings of earlier versions are enums now (event types, flag states, job
    states, asset roles): every value a migration writes or reads, and every model default,
    is a member — a catalog upgraded by the migrations holds no value the code does not know."""
    import ast
    from pathlib import Path

    from catalog.models import AssetRole, Event, EventType, Flag, FlagStatus, Job, JobState

    versions = Path(__file__).resolve().parents[2] / "catalog" / "migrations" / "versions"
    written: set[str] = set()
    for path in versions.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "type" and isinstance(node.value, ast.Constant):
                written.add(str(node.value.value))
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TYPES" for t in node.targets):
                written |= {str(e.value) for e in node.value.elts}  # type: ignore[attr-defined]
    assert written and written <= {t.value for t in EventType}, written - {t.value for t in EventType}
    assert Flag.model_fields["status"].default in {s.value for s in FlagStatus}
    assert Job.model_fields["state"].default in {s.value for s in JobState}
    assert "type" in Event.model_fields and len({t.value for t in EventType}) == len(EventType)
    assert {r.value for r in AssetRole} >= {"master", "access", "page_image", "hocr", "pdf"}
