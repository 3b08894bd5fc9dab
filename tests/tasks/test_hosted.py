"""Engines in a child process: a call past its deadline is stopped and the next call is
served by a fresh child; an engine's error and a child's death come back as errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tasks.hosted import EngineCrashed, EngineTimeout, Hosted
from tasks.ocr import ppocr
from tasks.ocr.pipeline import ocr_pages
from tests.conftest import SAMPLES


def test_a_call_past_its_deadline_is_stopped_and_the_next_gets_a_fresh_child() -> None:
    host = Hosted("sleepy", "tests.tasks.slow_reader:Sleepy", describe=("name",))
    try:
        assert host.start() == {"name": "sleepy"}
        first = host.call("work", 0.0, seconds=30)
        began = time.monotonic()
        with pytest.raises(EngineTimeout, match=r"timed out after 1 s while work in sleepy"):
            host.call("work", 60.0, seconds=1)
        assert time.monotonic() - began < 10
        second = host.call("work", 0.0, seconds=30)
        assert second != first  # a new process
        with pytest.raises(EngineCrashed, match="ValueError: bad page"):
            host.call("fail", seconds=30)
        assert host.call("work", 0.0, seconds=30) == second  # an error does not cost the child
        with pytest.raises(EngineCrashed, match="exit code 9"):
            host.call("die", seconds=30)
        assert host.call("work", 0.0, seconds=30) not in (first, second)
    finally:
        host.stop()


def test_an_ocr_page_that_never_finishes_fails_and_the_next_page_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PP-OCR's models in their child process: the stuck page fails with the reason after
    its timeout, the pages after it are read."""
    folder = tmp_path / "pages"
    folder.mkdir()
    for name in ("a.png", "b_stuck.png", "c.png"):
        shutil.copy(SAMPLES / "网络支付.png", folder / name)
    stuck = Hosted("PP-OCR", "tests.tasks.slow_reader:StuckOnPageTwo", (1,))
    monkeypatch.setattr(ppocr, "_hosts", {1: stuck})
    engine = ppocr.PpOcrEngine(1)
    results = []
    for name in ("a.png", "b_stuck.png", "c.png"):
        work = tmp_path / f"work-{name}"
        work.mkdir()
        results += list(ocr_pages(folder / name, kind="image", languages="chi_sim+eng", workdir=work,
                                  page_timeout=3, engine=engine, osd=False))  # fmt: skip
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert "timed out after 3 s" in (results[1].error or "")
    assert "网络支付" in results[2].text.replace(" ", "")
    ppocr._hosts[1].stop()
