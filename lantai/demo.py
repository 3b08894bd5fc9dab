"""``lantai demo``: the main job on the shipped samples, start to finish."""

from __future__ import annotations

import time

from configs import LantaiError, get_settings
from lantai.console import (
    SAMPLES,
    catalog_session,
    escape,
    location_text,
    migrate_now,
    out,
    prepare_runtime,
    print_ingest,
    print_outcomes,
    progress_bars,
    run_flow,
)


def run_demo() -> None:
    """The main job on embedded defaults: ingest the shipped samples, enrich, summarise."""
    prepare_runtime()
    migrate_now()
    from catalog import crud
    from catalog.search import search as run_search
    from flows.enrich import enrich_flow, pending_kinds, preflight
    from flows.ingest import ingest_flow
    from flows.publish import open_and_publish

    settings = get_settings()
    if not SAMPLES.is_dir():
        raise LantaiError(
            f"the demo samples are missing ({SAMPLES})", hint="run lantai demo from a clone of the repository"
        )
    out.rule("[bold]兰台 Lantai demo")
    out.print(f"home {settings.home_dir} · catalog {settings.db_url} · objects {settings.storage.backend}")
    with catalog_session() as session:
        crud.get_or_create_collection(
            session,
            code="DEMO",
            name="兰台演示全宗 (demo)",
            fonds="J001",
            ocr_languages=settings.ocr.languages,
            script=settings.asr.script,
        )
    started = time.monotonic()
    with progress_bars():
        report = run_flow(ingest_flow, str(SAMPLES), "DEMO", None, "demo")
    print_ingest(report)
    preflight(settings, pending_kinds(settings, collection="DEMO", item_id=None, force=False))
    with progress_bars():
        outcomes = run_flow(enrich_flow, "DEMO", None, False)
    print_outcomes(outcomes)
    with catalog_session() as session:
        items = crud.list_items(session, collection="DEMO")
        out.rule("recognised text")
        for i in items:
            text = crud.item_text(session, item_id=i["item_id"])
            body = "\n".join(p.text for p in text["pages"]) or " ".join(
                s.text for segs in text["segments"].values() for s in segs
            )
            out.print(f"[cyan]{i['reference_code']}[/] {escape(i['title'])} ({i['kind']}, {i['status']})")
            out.print("    " + escape(body.strip().replace("\n", " ")[:160] or "(no text)"))
        out.rule("open review (开放审核): screening")
        flagged = [i for i in items if i["flags"]]
        for i in flagged:
            summary = crud.item_screening(session, item_id=i["item_id"])
            cats = ", ".join(f"{k} ×{v}" for k, v in sorted(summary.items()))
            out.print(
                f"[cyan]{i['reference_code']}[/] {escape(i['title'])}: {i['flags']} flags ({escape(cats)})"
            )
        if not flagged:
            out.print("no personal information or listed terms found")
        out.rule("open review (开放审核): opening")
        session.commit()
        opened = open_and_publish(  # screened, decided, and the public copies made
            reason="demo: the samples' manifest proposes 开放 and the samples are published material",
            who="demo",
            collection="DEMO",
            proposed_only=True,
        )
        out.print(
            f"{len(opened['opened'])} items opened (their manifest proposed 开放, screening found "
            f"nothing); {len(opened['refused'])} wait for open review"
        )
        out.rule("search")
        for query in ("账户", "country", "房地产"):
            hits = run_search(session, query, collection="DEMO", include_restricted=True, limit=3)
            out.print(f"$ lantai search {query}")
            for r in hits:
                where = location_text(r.hits[0].location) if r.hits else ""
                out.print(
                    f"    [cyan]{r.reference_code}[/] {escape(r.title)}  [dim]{r.hit_count} hits · {where}[/]"
                )
    out.print(
        f"\n{len(items)} items in {time.monotonic() - started:.1f} s. Try: "
        "[bold]lantai search 信用卡 --json[/], [bold]lantai status[/], "
        "[bold]lantai export 1 --format txt[/]; review in the browser: "
        "[bold]lantai users add NAME --role editor[/] (two editors for the two review rounds), "
        "[bold]lantai serve[/] → /review, /screening, /projects, and the public site at /public/"
    )
