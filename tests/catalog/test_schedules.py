"""Schedules as operators see them: next runs, last runs, and the alarm when a schedule
has not succeeded within twice its period (times are given, not waited for)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from catalog.db import get_engine
from catalog.models import Event
from catalog.ops import schedules

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
SWEEP = ("inbox-sweep", "inbox-sweep", "*/10 * * * *", "Asia/Shanghai")
AUDIT = ("nightly-fixity-audit", "fixity-audit", "0 2 * * *", "Asia/Shanghai")


def _state(session: Session, name: str, at: datetime) -> dict:  # type: ignore[type-arg]
    report = schedules.report(session, now=at)
    return next(s for s in report["schedules"] if s["name"] == name)


def _beat(session: Session, at: datetime) -> None:
    schedules.heartbeat(session, worker="w1", next_runs={}, problems={}, now=at)


def test_overdue_after_twice_the_period_without_success(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        schedules.register(s, worker="w1", schedules=[SWEEP, AUDIT], now=T0)
        s.commit()
        _beat(s, T0 + timedelta(minutes=15))
        fresh = _state(s, "inbox-sweep", T0 + timedelta(minutes=15))
        assert not fresh["overdue"] and fresh["period_seconds"] == 600
        assert fresh["next_run"] == "2026-11-30T09:20:00+08:00"  # in the schedule's timezone
        _beat(s, T0 + timedelta(minutes=21))
        late = _state(s, "inbox-sweep", T0 + timedelta(minutes=21))
        assert late["overdue"] and "no successful run ever" in late["alarms"][0]
        assert schedules.report(s, now=T0 + timedelta(minutes=21))["alarm"]
        # the nightly audit waits two days, not twenty minutes
        assert not _state(s, "nightly-fixity-audit", T0 + timedelta(minutes=21))["overdue"]

        schedules.run_started(s, name="inbox-sweep", flow="inbox-sweep", cron="", timezone="", flow_run="r1",
                              now=T0 + timedelta(minutes=20))  # fmt: skip
        schedules.run_finished(s, name="inbox-sweep", flow_run="r1", outcome="success",
                               now=T0 + timedelta(minutes=22))  # fmt: skip
        s.commit()
        _beat(s, T0 + timedelta(minutes=40))
        ok = _state(s, "inbox-sweep", T0 + timedelta(minutes=40))
        assert not ok["overdue"] and ok["last_run"]["outcome"] == "success"
        assert ok["last_success"] == "2026-11-30T09:22:00+08:00"
        assert ok["last_success_timestamp"] == (T0 + timedelta(minutes=22)).timestamp()
        event = s.exec(select(Event).where(Event.type == schedules.RUN_EVENT)).one()
        assert event.detail["schedule"] == "inbox-sweep" and event.outcome == "success"

        # a failed run does not count as success: overdue again two periods after the last one
        schedules.run_started(s, name="inbox-sweep", flow="inbox-sweep", cron="", timezone="", flow_run="r2",
                              now=T0 + timedelta(minutes=30))  # fmt: skip
        schedules.run_finished(s, name="inbox-sweep", flow_run="r2", outcome="failure", error="S3 down",
                               now=T0 + timedelta(minutes=31))  # fmt: skip
        _beat(s, T0 + timedelta(minutes=45))
        failed = _state(s, "inbox-sweep", T0 + timedelta(minutes=45))
        assert failed["overdue"] and failed["last_run"]["error"] == "S3 down"


def test_a_long_run_in_progress_is_not_overdue_while_its_worker_lives(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        schedules.register(s, worker="w1", schedules=[SWEEP], now=T0)
        schedules.run_started(s, name="inbox-sweep", flow="inbox-sweep", cron="", timezone="", flow_run="r1",
                              now=T0 + timedelta(minutes=10))  # fmt: skip
        _beat(s, T0 + timedelta(minutes=59))
        assert not _state(s, "inbox-sweep", T0 + timedelta(minutes=60))["overdue"]
        # the worker died: no heartbeat for ten minutes
        dead = _state(s, "inbox-sweep", T0 + timedelta(minutes=70))
        assert dead["overdue"] and any("has not reported" in a for a in dead["alarms"])


def test_stopped_worker_and_prefect_problems(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        schedules.register(s, worker="w1", schedules=[SWEEP], now=T0)
        schedules.heartbeat(
            s, worker="w1", next_runs={"inbox-sweep": None},
            problems={"inbox-sweep": "Prefect's scheduler has put no run of this schedule on the calendar"},
            now=T0 + timedelta(minutes=4),
        )  # fmt: skip
        st = _state(s, "inbox-sweep", T0 + timedelta(minutes=5))
        assert st["overdue"] and "scheduler" in st["alarms"][0]  # long before two periods pass
        schedules.heartbeat(s, worker="w1", next_runs={}, problems={"inbox-sweep": ""},
                            now=T0 + timedelta(minutes=6))  # fmt: skip
        assert not _state(s, "inbox-sweep", T0 + timedelta(minutes=6))["overdue"]
        # a worker stopped on purpose: its schedules are shown as not served, without alarm
        schedules.stop_serving(s, worker="w1")
        gone = _state(s, "inbox-sweep", T0 + timedelta(days=3))
        assert not gone["active"] and not gone["overdue"] and gone["next_run"] is None
        # serving again restarts the reference time
        schedules.register(s, worker="w1", schedules=[SWEEP], now=T0 + timedelta(days=3))
        back = _state(s, "inbox-sweep", T0 + timedelta(days=3, minutes=4))
        assert not back["overdue"], back["alarms"]


def test_work_pool_runs_make_their_own_rows(db_url: str) -> None:
    """Under a work pool (prefect.yaml) no lantai worker registers anything: the first run
    of a deployment brings its cron along."""
    with Session(get_engine(db_url)) as s:
        schedules.run_started(s, name="weekly-replication", flow="replicate", cron="0 3 * * 0",
                              timezone="Asia/Shanghai", flow_run="r9", now=T0)  # fmt: skip
        schedules.run_finished(s, name="weekly-replication", flow_run="r9", outcome="crashed",
                               error="killed", now=T0 + timedelta(minutes=1))  # fmt: skip
        st = _state(s, "weekly-replication", T0 + timedelta(days=6))
        assert st["served_by"] == "" and st["period_seconds"] == 7 * 86400 and not st["overdue"]
        assert _state(s, "weekly-replication", T0 + timedelta(days=15))["overdue"]
        schedules.server_error(s, message="database is locked", source="prefect server", now=T0)
        errors = schedules.report(s, now=T0 + timedelta(minutes=5))["server_errors"]
        assert errors[0]["message"] == "database is locked"


def test_bad_cron_is_a_configuration_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from configs.errors import ConfigError
    from configs.settings import get_settings

    monkeypatch.setenv("LANTAI_SCHEDULES__INBOX_SWEEP", "61 * * * *")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="inbox_sweep"):
        get_settings()
    monkeypatch.setenv("LANTAI_SCHEDULES__INBOX_SWEEP", "*/5 * * * *")
    monkeypatch.setenv("LANTAI_SCHEDULES__TIMEZONE", "Mars/Olympus")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="timezone"):
        get_settings()
    get_settings.cache_clear()
