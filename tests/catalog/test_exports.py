"""Record exports parsed back: Dublin Core XML and the DA/T 22 catalogue CSV."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from sqlmodel import Session, select

from catalog.models import Item
from catalog.publish.exports import DAT22_COLUMNS, collection_csv, to_dc
from configs.errors import BadInputError

DC = "{http://purl.org/dc/elements/1.1/}"


def test_dublin_core(session: Session) -> None:
    talk = session.exec(select(Item).where(Item.reference_code == "J001-LY·2020·Y-001")).one()
    root = ET.fromstring(to_dc(session, talk))
    values = {}
    for el in root:
        values.setdefault(el.tag.removeprefix(DC), []).append(el.text)
    assert values["identifier"] == ["J001-LY·2020·Y-001"]
    assert values["creator"] == ["张三"] and values["contributor"] == ["李四"]
    assert values["date"] == ["2020-01-05"] and values["type"] == ["Sound"]
    assert values["rights"] == ["开放标识: 开放"]
    scan = session.exec(select(Item).where(Item.reference_code == "J001-WS·2020·Y-001")).one()
    values = [(el.tag.removeprefix(DC), el.text) for el in ET.fromstring(to_dc(session, scan))]
    assert (
        ("subject", "水库") in values and ("subject", "水利") in values and ("date", "1958-03-01") in values
    )


def test_dat22_catalogue_csv(session: Session) -> None:
    text = collection_csv(session, "C1")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert tuple(rows[0]) == DAT22_COLUMNS
    assert [r[1] for r in rows[1:]] == ["J001-LY·2020·Y-001", "J001-WS·2020·Y-001", "J001-WS·2020·Y-002"]
    scan = next(r for r in rows if r[1] == "J001-WS·2020·Y-001")
    assert scan[3] == "县水利局" and scan[5] == "19580301" and scan[7] == "1" and scan[8] == "<b>不是标签</b>"
    with pytest.raises(BadInputError):
        collection_csv(session, "NOPE")
