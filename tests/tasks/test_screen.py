"""The screening detectors on a corpus of realistic page and transcript text with planted
personal information and decoys; every case must come out exactly as expected."""

from __future__ import annotations

import json
import re

import pytest

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
