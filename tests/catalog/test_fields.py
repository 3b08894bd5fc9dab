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
