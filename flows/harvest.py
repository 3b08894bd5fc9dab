"""Harvesting other archives' OAI-PMH feeds into the union catalog (跨馆查询).

Per source: Identify and the metadata format first (lantai_dat from another Lantai, oai_dc
from any provider), then ListRecords page by page — from the responseDate of the last
complete harvest (incremental), or from the saved resumption token when a run was
interrupted (resumable). Each page is written in its own short transaction together with
the token that follows it, so a killed run resumes where it stopped and writes nothing
twice. A source that fails (unreachable, malformed or hostile feed) is marked failed with
its reason and the next source is harvested; it never stops the others.
"""

from __future__ import annotations

import time
from typing import Any

from catalog.db import session_scope
from catalog.models import HarvestSource, utcnow
from catalog.publish import union
from configs import get_settings
from configs.errors import LantaiError
from flows import run_records, runner
from flows.progress import report
from tasks import oaiclient

MAX_PAGES = 10_000  # pages of one list in one run (1,000,000 records at 100 a page): a bound on endless feeds


def _since(response_date: str, granularity: str) -> str:
    return response_date[:10] if granularity == "YYYY-MM-DD" else response_date


def harvest_source(source_id: int, *, max_pages: int | None = None) -> dict[str, Any]:
    """Harvest one source; its state and counts are saved whatever happens. The whole
    source has ``[oai] harvest_deadline`` seconds: a feed that trickles or never ends is
    stopped there, and the next run resumes from the saved resumption token."""
    settings = get_settings()
    began = time.monotonic()
    deadline = began + settings.oai.harvest_deadline
    with session_scope(settings) as session:
        source = session.get(HarvestSource, source_id)
        assert source is not None
        url, set_spec, since, token, prefix = (
            source.url,
            source.set_spec,
            source.since,
            source.token,
            source.prefix,
        )
        name = source.name
        source.status, source.error = "running", ""
        session.add(source)
    added = deleted = rejected = 0
    notes: list[str] = []
    try:
        info = oaiclient.identify(url, deadline=deadline)
        prefix = prefix or oaiclient.metadata_prefix(url, deadline=deadline)
        with session_scope(settings) as session:
            source = session.get(HarvestSource, source_id)
            assert source is not None
            source.repository_name = info.get("repositoryName", "")[:200]
            source.prefix = prefix
            session.add(source)
            if not since and not token:
                union.forget_source_records(session, source_id)  # a full harvest: start clean
        pages = oaiclient.list_records(
            url,
            prefix=prefix,
            set_spec=set_spec,
            since=since,
            token=token,
            max_pages=max_pages or MAX_PAGES,
            deadline=deadline,
        )
        response_date = ""
        for page in pages:
            response_date = response_date or page.response_date
            with session_scope(settings) as session:
                changed, gone = union.apply_page(session, source_id, page.records)
                source = session.get(HarvestSource, source_id)
                assert source is not None
                source.token = page.token  # where a killed run resumes
                if not page.token:
                    granularity = info.get("granularity", "")
                    source.since = _since(response_date, granularity) if response_date else source.since
                session.add(source)
            added, deleted, rejected = added + changed, deleted + gone, rejected + len(page.rejected)
            notes += page.rejected[:5]
            report("harvest", source=name, records=added)
        status, error = "ok", ""
    except LantaiError as e:
        status, error = "failed", e.message
    with session_scope(settings) as session:
        source = session.get(HarvestSource, source_id)
        assert source is not None
        source.status, source.error = status, error
        source.last_added, source.last_deleted, source.last_rejected = added, deleted, rejected
        source.records = union.count_records(session, source_id)
        source.last_run_at = utcnow()
        session.add(source)
        records = source.records
    return {
        "source": name,
        "status": status,
        "error": error,
        "added": added,
        "deleted": deleted,
        "rejected": rejected,
        "rejected_examples": notes[:5],
        "records": records,
        "seconds": round(time.monotonic() - began, 2),
    }


@runner.flow(name="harvest", log_prints=False, **run_records.HOOKS)
def harvest_flow(name: str | None = None) -> list[dict[str, Any]]:
    """Harvest every source (or the one named), one after another."""
    with session_scope(get_settings()) as session:
        ids = [s.id or 0 for s in union.sources(session) if name is None or s.name == name]
        if name is not None and not ids:
            union.source_named(session, name)  # raises with the hint
    results = [harvest_source(source_id) for source_id in ids]
    for result in results:
        runner.logger().info(
            "harvest %s: %s, %d added or changed, %d deleted, %d rejected",
            result["source"], result["status"], result["added"], result["deleted"], result["rejected"],
        )  # fmt: skip
    return results
