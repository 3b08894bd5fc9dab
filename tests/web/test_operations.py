"""The operators' dashboard and Prometheus metrics."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from catalog.crud import add_event
from catalog.db import get_engine
from catalog.models import EventType, Item, ItemStatus
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
        add_event(s, type=EventType.ocr, engine="tesseract", pages=12, seconds=30.0)
        add_event(s, type=EventType.transcription, engine="faster-whisper", duration=1800.0, seconds=240.0)
        used = {"engine": "openai-whisper", "version": "20250625", "model": "base", "device": "cuda",
                "compute_type": "float16"}  # fmt: skip
        options = {"beam_size": 5, "vad": True, "condition_on_previous_text": False}
        add_event(
            s, type=EventType.transcription, item_id=seeded.recording, seconds=1.0, options=options, **used
        )
        add_event(
            s,
            type=EventType.fixity_audit,
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
    # the engine, model, device and decoding options the last runs actually used
    runs = html[html.index('id="engine-runs"') :]
    runs = runs[: runs.index("</table>")]
    for used in ("openai-whisper", "base", "cuda", "float16", "beam_size=5", "vad=True",
                 "condition_on_previous_text=False", "J001-LY·2024·Y-001"):  # fmt: skip
        assert used in runs, used
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
    assert 'lantai_failures{reason="truncated_input"} 1.0' in body  # a code, not the free text
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


def test_schedules_on_the_dashboard_and_in_metrics(clients: dict[str, Browser], seeded: Seeded) -> None:
    """A sweep that succeeded an hour ago on a 10-minute schedule is overdue: the dashboard
    shows a banner and the row, Prometheus the timestamp and the overdue gauge; a schedule
    that just ran is fine."""
    from datetime import timedelta

    from catalog.models import utcnow
    from catalog.ops import schedules

    now = utcnow()
    with Session(get_engine(get_settings().db_url)) as s:
        schedules.register(
            s, worker="w1", now=now - timedelta(hours=2),
            schedules=[("inbox-sweep", "inbox-sweep", "*/10 * * * *", "Asia/Shanghai"),
                       ("nightly-fixity-audit", "fixity-audit", "0 2 * * *", "Asia/Shanghai")],
        )  # fmt: skip
        schedules.heartbeat(s, worker="w1", next_runs={}, problems={}, now=now)
        schedules.run_started(s, name="inbox-sweep", flow="inbox-sweep", cron="", timezone="",
                              flow_run="run-1", now=now - timedelta(hours=1))  # fmt: skip
        schedules.run_finished(s, name="inbox-sweep", flow_run="run-1", outcome="success",
                               now=now - timedelta(hours=1))  # fmt: skip
        schedules.run_started(s, name="inbox-sweep", flow="inbox-sweep", cron="", timezone="",
                              flow_run="run-2", now=now - timedelta(minutes=30))  # fmt: skip
        schedules.run_finished(s, name="inbox-sweep", flow_run="run-2", outcome="failure",
                               error="<storage unreachable>", now=now - timedelta(minutes=29))  # fmt: skip
        schedules.server_error(s, message="database is locked <sqlite>", source="prefect server", now=now)
        s.commit()
    html = clients["op"].get("/dashboard").text
    assert 'id="schedule-alarm"' in html and "inbox-sweep: no successful run since" in html
    assert 'id="schedules"' in html and "nightly-fixity-audit" in html
    assert "&lt;storage unreachable&gt;" in html and "database is locked &lt;sqlite&gt;" in html
    body = clients["op"].get("/metrics").text
    last = (now - timedelta(hours=1)).timestamp()
    found = re.search(r'lantai_schedule_last_success_timestamp\{schedule="inbox-sweep"\} (\S+)', body)
    assert found and abs(float(found[1]) - last) < 0.01
    assert 'lantai_schedule_last_success_timestamp{schedule="nightly-fixity-audit"} 0.0' in body
    assert 'lantai_schedule_overdue{schedule="inbox-sweep"} 1.0' in body
    assert 'lantai_schedule_overdue{schedule="nightly-fixity-audit"} 0.0' in body
    assert 'lantai_schedule_period_seconds{schedule="nightly-fixity-audit"} 86400.0' in body
    with Session(get_engine(get_settings().db_url)) as s:
        schedules.run_finished(s, name="inbox-sweep", flow_run="run-3", outcome="success", now=utcnow())
        s.commit()
    assert 'id="schedule-alarm"' not in clients["op"].get("/dashboard").text


def test_failure_reasons_are_a_small_set_of_codes() -> None:
    from catalog.ops.operations import REASON_CODES, reason_code

    assert reason_code("encrypted PDF (password required)") == "encrypted"
    assert (
        reason_code("truncated MP3 file: 600 bytes for the 11.0 s its header declares") == "truncated_input"
    )
    assert reason_code("corrupt or truncated image: broken data stream") == "truncated_input"
    assert reason_code("page 3 timed out after 300 s") == "timeout"
    assert reason_code("Tesseract crashed: signal 11") == "engine_crash"
    assert reason_code("the ASR model base is missing") == "model"
    assert reason_code("something nobody foresaw (item 12345)") == "other"
    assert len({code for code, _ in REASON_CODES}) + 1 <= 12  # bounded label values
