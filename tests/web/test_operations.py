"""The operators' dashboard and Prometheus metrics."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from catalog.crud import add_event
from catalog.db import get_engine
from catalog.models import Item, ItemStatus
from configs import get_settings
from tests.web.conftest import Browser, Seeded
from web.app import create_app


@pytest.fixture
def with_history(seeded: Seeded) -> Seeded:
    with Session(get_engine(get_settings().db_url)) as s:
        item = s.get(Item, seeded.closed)
        assert item is not None
        item.status, item.status_reason = ItemStatus.failed, "cannot decode the page: <truncated>"
        s.add(item)
        add_event(s, type="optical character recognition", engine="tesseract", pages=12, seconds=30.0)
        add_event(s, type="transcription", engine="faster-whisper", duration=1800.0, seconds=240.0)
        add_event(
            s,
            type="fixity audit",
            outcome="failure",
            checked=3,
            ok=2,
            missing=[{"key": "masters/x"}],
            changed=[],
        )
        s.commit()
    return seeded


def test_dashboard_shows_counts_throughput_failures_and_audit(
    clients: dict[str, Browser], with_history: Seeded
) -> None:
    html = clients["op"].get("/dashboard").text
    assert 'id="stages"' in html and "ORAL" in html
    assert "0.2" in html  # 12 pages in the last hour: 0.2 pages per minute
    assert "0.5" in html  # 1,800 s of audio in the last hour
    assert "cannot decode the page: &lt;truncated&gt;" in html and 'id="retry-all"' in html
    assert 'id="audit-alarm"' in html
    assert clients["col"].get("/dashboard", follow_redirects=False).status_code == 403
    assert clients["ed"].get("/dashboard", follow_redirects=False).status_code == 403


def test_metrics_for_prometheus(
    clients: dict[str, Browser], with_history: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = clients["op"].get("/metrics").text
    assert 'lantai_items{collection="ORAL",state="failed"} 1.0' in body
    assert 'lantai_processing_seconds_bucket{engine="tesseract",le="60.0"} 1.0' in body
    assert 'lantai_processing_seconds_count{engine="faster-whisper"} 1.0' in body
    assert "lantai_fixity_problems 1.0" in body and "lantai_queue_depth 0.0" in body
    assert 'lantai_failures{reason="cannot decode the page: <truncated>"} 1.0' in body
    anonymous = Browser(create_app())
    assert anonymous.get("/metrics", follow_redirects=False).status_code == 303
    assert clients["ed"].get("/metrics").status_code == 403
    monkeypatch.setenv("LANTAI_METRICS_TOKEN", "scrape-secret")
    get_settings.cache_clear()
    scraper = Browser(create_app())
    assert scraper.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200
    assert (
        scraper.get("/metrics", headers={"Authorization": "Bearer wrong"}, follow_redirects=False).status_code
        == 303
    )
