"""档号 (DA/T 13), dates and manifests (DA/T 18 / DA/T 59 fields)."""

from __future__ import annotations

import json

import pytest

from catalog import manifest, refcode
from configs.errors import BadInputError


def test_refcode_round_trip() -> None:
    code = refcode.parse("J019-LY·2019·Y-001")
    assert (code.fonds, code.category, code.year, code.retention, code.number) == (
        "J019",
        "LY",
        "2019",
        "Y",
        1,
    )
    assert str(code) == "J019-LY·2019·Y-001"


@pytest.mark.parametrize("raw", ["J019-LY・2019・Y-001", "J019－LY·2019·Y-001"])
def test_refcode_lookalike_separators_are_normalized(raw: str) -> None:
    assert refcode.validate(raw) == "J019-LY·2019·Y-001"


@pytest.mark.parametrize(
    "bad", ["", "J019--001", "J019-LY··2019", "J0 19-LY", "档号-1", "J019-LY·2019·Y-001;DROP"]
)
def test_refcode_invalid(bad: str) -> None:
    with pytest.raises(BadInputError):
        refcode.validate(bad)


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("20190315", "20190315"),
        ("2019", "2019"),
        ("2019年3月15日", "20190315"),
        ("19610120-19610121", "19610120-19610121"),
    ],
)
def test_dates(raw: str, norm: str) -> None:
    assert manifest.validate_date(raw) == norm


@pytest.mark.parametrize("bad", ["2019-13", "20191340", "March 2019", "19"])
def test_bad_dates(bad: str) -> None:
    with pytest.raises(BadInputError):
        manifest.validate_date(bad)


CSV = (
    "文件名,档号,题名,日期,保管期限,开放标识,口述者\n"
    "a.wav,J019-LY·2019·Y-001,张村口述,20190315,永久,开放,张三\n"
    "b.wav,,第二条,2019-13,Y,开放,\n"
    "c.wav,,第三条,20190101,D99,,\n"
    ",,没有文件名,,,,\n"
    "d.wav,,第四条,,D30,控制,李四\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_manifest_in_any_encoding_with_bad_rows_reported(encoding: str) -> None:
    m = manifest.parse(CSV.encode(encoding), name="manifest.csv")
    assert set(m.rows) == {"a.wav", "d.wav"}
    a = m.rows["a.wav"].fields
    assert a == {
        "reference_code": "J019-LY·2019·Y-001",
        "title": "张村口述",
        "date": "20190315",
        "retention": "Y",
        "access": "开放",
        "narrator": "张三",
    }
    assert m.rows["d.wav"].fields["retention"] == "D30"
    assert [e.split(":")[0] for e in m.errors] == [
        "manifest.csv line 3",
        "manifest.csv line 4",
        "manifest.csv line 5",
    ]


def test_json_manifest_and_lookup_by_base_name() -> None:
    data = json.dumps({"items": [{"file": "scans/p1.tif", "title": "Page one"}, "not an object"]})
    m = manifest.parse(data.encode(), name="manifest.json")
    assert m.row_for("scans/p1.tif") is not None
    assert m.row_for("p1.tif") is None
    assert len(m.errors) == 1 and "line 2" in m.errors[0]


def test_not_a_manifest() -> None:
    with pytest.raises(BadInputError):
        manifest.parse(b"{not json", name="manifest.json")
    with pytest.raises(BadInputError):
        manifest.parse(b"\xff\xfe\x00\xd8garbage\x81\x30", name="manifest.csv")
