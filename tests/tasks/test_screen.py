"""The screening detectors on a corpus of realistic page and transcript text with planted
personal information and decoys; every case must come out exactly as expected."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.settings import ScreeningSettings
from tasks import screen
from tests.conftest import RESOURCES

CORPUS = json.loads((RESOURCES / "screening.json").read_text(encoding="utf-8"))["cases"]
LISTS = screen.load_term_lists(ScreeningSettings().terms_path)


def _found(text: str) -> list[list[str]]:
    return sorted([h.category, re.sub(r"\s", "", h.value)] for h in screen.screen_text(text, LISTS))


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_case(case: dict) -> None:  # type: ignore[type-arg]
    expected = sorted([cat, re.sub(r"\s", "", value)] for cat, value in case["expect"])
    found = _found(case["text"])
    # full-width digits are found as written; compare them half-width
    norm = [[c, v.translate({0xFF10 + i: 0x30 + i for i in range(10)})] for c, v in found]
    assert norm == expected


def test_id_checksum() -> None:
    assert screen.id_checksum_ok("11010519491231002X")
    assert not screen.id_checksum_ok("110105194912310021")
    assert screen.luhn_ok("4111111111111111") and not screen.luhn_ok("4111111111111112")


def test_hit_offsets_point_into_the_original_text() -> None:
    text = "电话：139 1234\n5678。"
    [hit] = screen.personal_information(text)
    assert text[hit.start : hit.end] == "139 1234\n5678"
    assert hit.preview == "139****5678"


def test_term_lists_load_and_bad_files_are_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert {tl.category for tl in LISTS} >= {"密级标识", "个人隐私"}
    (tmp_path / "bad.toml").write_text("[[list]\nname=", encoding="utf-8")
    from configs.errors import ConfigError

    with pytest.raises(ConfigError, match="not valid TOML"):
        screen.load_term_lists(tmp_path)
    (tmp_path / "bad.toml").write_text(
        '[[list]]\nname = "x"\ncategory = "测试"\nterms = ["水庫"]\n', encoding="utf-8"
    )
    [tl] = screen.load_term_lists(tmp_path, ["x"])
    assert [h.value for h in screen.listed_terms("修建水库", [tl])] == ["水库"]


# ---------------------------------------------------------------- the corpus of written forms

FORMS = json.loads((RESOURCES / "screening_corpus.json").read_text(encoding="utf-8"))


def _plain(value: str) -> str:
    """A value as compared: no whitespace, no format characters."""
    return "".join(ch for ch in "".join(value.split()) if unicodedata.category(ch) != "Cf")


@pytest.mark.parametrize("case", FORMS["positives"], ids=[c["id"] for c in FORMS["positives"]])
def test_personal_data_as_records_write_it(case: dict) -> None:  # type: ignore[type-arg]
    found = sorted([h.category, _plain(h.value)] for h in screen.personal_information(case["text"]))
    assert found == sorted(case["expect"]), case["family"]


@pytest.mark.parametrize("case", FORMS["negatives"], ids=[c["id"] for c in FORMS["negatives"]])
def test_numbers_that_are_not_personal_data(case: dict) -> None:  # type: ignore[type-arg]
    assert screen.personal_information(case["text"]) == []


def test_the_corpus_is_large_enough_and_current() -> None:
    assert len(FORMS["positives"]) >= 150 and len(FORMS["negatives"]) >= 100
    # the file is what its maker makes (nobody edited expectations by hand)
    import runpy

    maker = runpy.run_path(str(RESOURCES / "make_screening_corpus.py"))
    assert len(maker["positives"]()) == len(FORMS["positives"])


# ---------------------------------------------------------------- properties

_PROVINCES = sorted(screen._PROVINCES - {"71", "81", "82", "83", "91"})
_MOBILE = [
    "130",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "158",
    "166",
    "177",
    "186",
    "189",
    "199",
]
# Chinese text with no digit, no Chinese numeral, no Latin letter and no telephone label
_FILLER = st.text(
    alphabet=st.sampled_from(
        "档案馆藏资料记录会议纪要工作同志单位地址街道社区县城乡村年月日的了和在是有为对"
    ),
    min_size=0,
    max_size=12,
)


@st.composite
def _id_number(draw: st.DrawFn) -> tuple[str, str]:
    province = draw(st.sampled_from(_PROVINCES))
    area = draw(st.integers(101, 9999)).__format__("04d")
    born = draw(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2025, 12, 31)))
    body = province + area + born.strftime("%Y%m%d") + draw(st.integers(0, 999)).__format__("03d")
    number = body + screen.id_check_character(body)
    if number.endswith("X") and draw(st.booleans()):
        number = number[:-1] + "x"
    grouping = draw(st.sampled_from([(18,), (6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2)]))
    return "id_number", _grouped(number, grouping, draw)


@st.composite
def _mobile(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(st.sampled_from(_MOBILE)) + draw(st.integers(0, 99999999)).__format__("08d")
    grouping = draw(st.sampled_from([(11,), (3, 4, 4), (3, 8), (7, 4)]))
    return "mobile", _grouped(number, grouping, draw)


@st.composite
def _card(draw: st.DrawFn) -> tuple[str, str]:
    length = draw(st.integers(16, 19))
    body = draw(st.sampled_from(["622202", "622848", "621700", "436742", "955880"]))
    body += "".join(str(draw(st.integers(0, 9))) for _ in range(length - 7))
    number = next(body + d for d in "0123456789" if screen.luhn_ok(body + d))
    grouping = draw(st.sampled_from([(length,), (4, 4, 4, 4, 4)]))
    return "bank_card", _grouped(number, grouping, draw)


def _grouped(number: str, sizes: tuple[int, ...], draw: st.DrawFn) -> str:
    groups, pos = [], 0
    for n in sizes:
        if pos < len(number):
            groups.append(number[pos : pos + n])
            pos += n
    sep = draw(st.sampled_from([" ", "-", " - ", "\u3000"]))
    text = sep.join(groups)
    # at most one line end inside the number (a line OCR broke), past its first four digits:
    # a line wraps at the margin, so a number that starts a line and breaks within four
    # digits is a layout no page has (``screen._cell_above``)
    if draw(st.booleans()):
        k = draw(st.integers(1, len(text) - 1))
        if text[k - 1].isalnum() and text[k].isalnum() and sum(c.isalnum() for c in text[:k]) > 4:
            text = text[:k] + "\n" + text[k:]
    # invisible characters and full-width digits, as OCR and word processors leave them
    out = []
    for ch in text:
        if ch.isdigit() and draw(st.integers(0, 9)) == 0:
            ch = chr(ord(ch) + 0xFEE0)
        out.append(ch)
        if ch.isalnum() and draw(st.integers(0, 14)) == 0:
            out.append(draw(st.sampled_from(["\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff"])))
    return "".join(out)


def _digits(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", value) if c.isalnum()).upper()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    numbers=st.lists(st.one_of(_id_number(), _mobile(), _card()), min_size=1, max_size=4),
    fillers=st.lists(_FILLER, min_size=5, max_size=5),
    between=st.sampled_from([" ", "\n", "，", "；", "、", " \n"]),
)
def test_each_number_is_found_exactly_once(
    numbers: list[tuple[str, str]], fillers: list[str], between: str
) -> None:
    """Valid numbers in random Chinese text, written with random separators, one line end,
    full-width digits and invisible characters, side by side or apart: each found once, as
    what it is, covering exactly its characters."""
    parts = [fillers[0]]
    for n, (_, written) in enumerate(numbers):
        parts += [written, fillers[n + 1] if fillers[n + 1] else between]
    text = "".join(parts)
    hits = screen.personal_information(text)
    assert [h.category for h in hits] == [kind for kind, _ in numbers]
    for hit, (_, written) in zip(hits, numbers, strict=True):
        assert _digits(hit.value) == _digits(written)


_DATE = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2030, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.one_of(
            st.lists(st.integers(0, 999), min_size=1, max_size=12).map(lambda xs: " ".join(map(str, xs))),
            st.lists(st.integers(1900, 2030), min_size=1, max_size=8).map(lambda xs: " ".join(map(str, xs))),
            _DATE.map(lambda d: d.strftime("%Y-%m-%d")),
            _DATE.map(lambda d: d.strftime("%Y%m%d")),
            _DATE.map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
            st.decimals(0, 10**9, places=2).map(lambda x: f"{x:,} 元"),
            st.integers(0, 10**7).map(lambda x: f"共 {x} 人"),
        ),
        min_size=1,
        max_size=8,
    ),
    joiner=st.sampled_from(["\n", "；", "\t", "  |  "]),
)
def test_tables_dates_and_amounts_are_not_personal_data(rows: list[str], joiner: str) -> None:
    """Rows of small numbers, years, dates and amounts — what statistical tables and
    registers are full of — give no hit, whatever their layout: one row per line, or cells
    separated by tabs, ；or rules. (Not rows run together with single spaces: a row `130`
    and a row `1900 1900` so joined are a mobile number written as mobiles are written,
    130 1900 1900 — no detector can tell them apart, and screening flags it.)"""
    assert screen.personal_information(joiner.join(rows)) == []


@settings(max_examples=200, deadline=None)
@given(
    number=st.one_of(_id_number(), _mobile(), _card()),
    cuts=st.lists(st.integers(1, 30), min_size=1, max_size=3, unique=True),
    before=_FILLER,
    after=_FILLER,
)
def test_a_number_cut_over_four_segments_is_found_once(
    number: tuple[str, str], cuts: list[int], before: str, after: str
) -> None:
    """A transcript's segment ends are cuts the recogniser's pauses or an editor's splits
    made anywhere: a number cut by up to three of them (four segments) is found once."""
    kind, written = number
    flat = written.replace("\n", "")
    points = sorted({c for c in cuts if c < len(flat) and flat[c - 1].isalnum() and flat[c].isalnum()})
    pieces = [flat[a:b] for a, b in itertools.pairwise([0, *points, len(flat)])]
    text = f"{before}\n" + "\n".join(pieces) + f"\n{after}"
    hits = screen.personal_information(text, breaks=3)
    assert [h.category for h in hits] == [kind]
    assert _digits(hits[0].value) == _digits(written)


def test_a_short_row_above_is_a_table_cell_not_a_wrapped_number() -> None:
    """Found by the table property test: a row `130` above a row `1900 1900` read as the
    mobile 130 1900 1900 broken by a line end. A line of four digits or fewer that holds
    nothing else is a cell; after text, or in a transcript's segments, it may start a number."""
    assert screen.personal_information("130\n1900 1900") == []
    assert screen.personal_information("0 130\n1900 1900") == []  # a row of figures above
    assert screen.personal_information("130\t1900\t1900") == []  # cells of an exported table
    assert [h.category for h in screen.personal_information("电话 130\n1900 1900")] == ["mobile"]
    assert [h.category for h in screen.personal_information("130\n1900 1900", breaks=3)] == ["mobile"]
    assert [h.category for h in screen.personal_information("13019\n001900")] == ["mobile"]
