"""The ``lantai`` command line: the commands and their options, each a few lines over the
flows and the catalog (the shared console and printers: ``lantai.console``; the demo, models,
users, harvest and partners commands: their own modules). The command names, options and
``--json`` shapes are a contract (DESIGN.md): scripts rely on them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from configs import LantaiError, get_settings
from configs.errors import BadInputError
from lantai.config_cmd import config_app
from lantai.console import (
    catalog_session,
    err,
    escape,
    location_text,
    migrate_now,
    out,
    prepare_runtime,
    print_ingest,
    print_json,
    print_outcomes,
    printable,
    progress_bars,
    run_flow,
    unescape,
    write_atomically,
)
from lantai.demo import run_demo
from lantai.models_cmd import models_app
from lantai.network_cmd import harvest_app, partners_app, union_hits
from lantai.users_cmd import users_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Lantai (兰台): OCR, transcription and cataloguing for archives.",
)
app.add_typer(models_app, name="models")
app.add_typer(users_app, name="users")
app.add_typer(harvest_app, name="harvest")
app.add_typer(partners_app, name="partners")
app.add_typer(config_app, name="config")

# ---------------------------------------------------------------- commands


@app.command()
def migrate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create or upgrade the catalog database (schema and search index) for this version of
    Lantai; idempotent. `serve`, `worker`, the demo and setup run it first; other commands
    refuse a catalog that is behind (exit 3) rather than convert it on their first query."""
    prepare_runtime()
    report = migrate_now(echo=not as_json)
    if as_json:
        print_json(report)
    elif report["was"] == "current":
        out.print(f"catalog {escape(report['database'])} is current (schema {report['to']})")


@app.command()
def ingest(
    sources: Annotated[
        list[str], typer.Argument(help="local files and folders, or one s3://BUCKET/inbox/PREFIX")
    ],
    collection: Annotated[str | None, typer.Option(help="collection code (全宗/专题)")] = None,
    manifest: Annotated[Path | None, typer.Option(help="manifest CSV/JSON describing the files")] = None,
    batch: Annotated[str | None, typer.Option(help="batch name (default: the folder name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Ingest local files and folders (straight to their masters) or an s3:// inbox prefix."""
    prepare_runtime()
    from flows.ingest import ingest_flow

    if manifest is not None and not manifest.is_file():
        raise LantaiError(f"manifest {manifest} not found")
    with progress_bars(not as_json):
        report = run_flow(ingest_flow, sources, collection, str(manifest) if manifest else None, batch)
    if as_json:
        print_json(report)
        return
    print_ingest(report)


@app.command()
def enrich(
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    item: Annotated[int | None, typer.Option(help="only this item id (re-runs it)")] = None,
    force: Annotated[bool, typer.Option(help="re-run finished work too")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run OCR and transcription on all pending work (or one item)."""
    prepare_runtime()
    from flows.enrich import enrich_flow, pending_kinds, preflight

    settings = get_settings()
    preflight(settings, pending_kinds(settings, collection=collection, item_id=item, force=force))
    with progress_bars(not as_json):
        outcomes = run_flow(enrich_flow, collection, item, force)
    if as_json:
        print_json(outcomes)
        return
    print_outcomes(outcomes)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="words or a phrase, Chinese or English")],
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    kind: Annotated[str | None, typer.Option(help="scan or recording")] = None,
    year: Annotated[int | None, typer.Option(help="only items dated in this year")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="dated in this year or later")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="dated in this year or earlier")] = None,
    language: Annotated[str | None, typer.Option(help="语言 as catalogued, e.g. 中文")] = None,
    status: Annotated[str | None, typer.Option(help="enriched, in_review, approved, …")] = None,
    access: Annotated[str | None, typer.Option(help="开放标识: 开放, 控制, 延期, 未审核")] = None,
    show_facets: Annotated[bool, typer.Option("--facets", help="also count the hits per facet")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="items per page")] = 20,
    offset: Annotated[int, typer.Option(min=0, max=100_000, help="skip this many items (paging)")] = 0,
    union: Annotated[
        bool, typer.Option("--union", help="also other archives' records (harvested: lantai harvest)")
    ] = False,
    fuzzy: Annotated[
        bool,
        typer.Option("--fuzzy", help="also phrases with one character misread by OCR, after the exact hits"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search titles, descriptions, page text and transcripts: one result per item, best
    first, with its best hits. Words separated by spaces must all occur in the item; OR
    for either, -word or NOT word to exclude, "quotes" for a phrase. With --union, also the
    records harvested from other archives, each naming its holder and linking to it."""
    from catalog.search import Filters, search_items, shown

    if kind not in (None, "scan", "recording"):
        raise BadInputError(f"--kind must be scan or recording, not {kind!r}")
    filters = Filters(
        collection=collection,
        kind=kind,
        language=language,
        status=status,
        access=access,
        year_from=year if year is not None else year_from,
        year_to=year if year is not None else year_to,
        include_restricted=True,  # the command line is staff's
    )
    with catalog_session() as session:
        found = search_items(
            session, query, filters=filters, limit=limit, offset=offset, with_facets=show_facets, fuzzy=fuzzy
        )
        counts = found.facets if show_facets else None
        others = union_hits(session, query, limit) if union else []
    if as_json:  # a list of items (DESIGN.md's contract), or with --facets an object around it
        listed = [r.as_json() for r in found.items] + others
        if counts is None:
            print_json(listed)
        else:
            print_json(
                {"hits": listed, "total": found.total, "facets": counts, "facets_capped": counts.capped}
            )
        return
    if not found.items:
        out.print(printable(f"no hits for {query!r}"), markup=False)
    for r in found.items:
        count = f"{r.hit_count} hit{'s' if r.hit_count != 1 else ''}"
        out.print(f"[cyan]{r.reference_code}[/] {escape(r.title)}  [dim]{count}[/]")
        for h in r.hits:
            snippet = shown(h.snippet).replace('<mark class="differs">', "[reverse red]")
            snippet = snippet.replace("<mark>", "[bold red]").replace("</mark>", "[/]")
            out.print(f"    [dim]{location_text(h.location)}[/]  {unescape(snippet)}")
    if found.total > offset + len(found.items):
        out.print(f"[dim]{found.total} items in all; --offset {offset + limit} for the next {limit}[/]")
    for other in others:
        out.print(f"[magenta]{escape(other['holder'])}[/] [cyan]{escape(other['reference_code'])}[/] "
                  f"{escape(other['title'])}  [dim]{escape(other['link'])}[/]")  # fmt: skip
        if other["snippet"]:
            out.print(f"    {escape(other['snippet'])}")
    for name, values in (counts or {}).items():
        if values:
            more = "+" if counts is not None and counts.capped else ""
            out.print(f"[dim]{name}:[/] " + ", ".join(f"{escape(v)} ({n}{more})" for v, n in values.items()))


@app.command()
def reindex() -> None:
    """Rebuild the search index from the catalog (recovery)."""
    from catalog.db import get_engine
    from catalog.ops.statistics import refresh
    from catalog.search import reindex_all

    with catalog_session() as session:
        count = reindex_all(session)
    refresh(get_engine(get_settings().db_url), force=True)
    out.print(f"search index rebuilt: {count} entries (planner statistics refreshed)")


@app.command()
def screen(
    collection: Annotated[str | None, typer.Option(help="collection code")] = None,
    item: Annotated[int | None, typer.Option(help="one item id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Screen recognised text for personal information and listed terms (开放审核, first pass).
    Enrichment screens every item it finishes; this re-runs it, e.g. after a term list changed."""
    prepare_runtime()
    from flows.publish import screen_flow

    results = run_flow(screen_flow, collection, item)
    if as_json:
        out.print_json(json.dumps(results, ensure_ascii=False))
        return
    for r in results:
        cats = ", ".join(f"{k} {v}" for k, v in sorted(r["categories"].items())) or "no hits"
        out.print(f"[cyan]{r['reference_code']}[/] {r['hits']} flags ({r['open']} open): {escape(cats)}")
    flagged = sum(1 for r in results if r["open"])
    out.print(f"{len(results)} items screened, {flagged} with flags to review (web UI: /screening)")


@app.command(name="open")
def open_cmd(
    reason: Annotated[str, typer.Option(help="why these items may open (recorded with each decision)")],
    collection: Annotated[str | None, typer.Option(help="collection code")] = None,
    item: Annotated[int | None, typer.Option(help="one item id")] = None,
    proposed: Annotated[
        bool, typer.Option("--proposed", help="only items whose manifest proposed 开放标识=开放")
    ] = False,
    by: Annotated[str, typer.Option(help="who decides (default: the operating-system user)")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open already-reviewed holdings (开放) on the archive's explicit word: screens each item
    first, refuses items with undecided screening flags, and records who and why. A
    manifest's 开放标识 never opens an item by itself."""
    import getpass

    prepare_runtime()
    if collection is None and item is None:
        raise BadInputError("name the items to open: --collection CODE or --item ID")
    from flows.publish import open_and_publish

    who = by or f"cli:{getpass.getuser()}"
    result = open_and_publish(
        reason=reason, who=who, collection=collection, item_id=item, proposed_only=proposed
    )
    if as_json:
        print_json(result)
    else:
        for entry in result["opened"]:
            out.print(f"[green]opened[/] {escape(str(entry['reference_code']))}")
        for entry in result["refused"]:
            code, why = escape(str(entry["reference_code"])), escape(str(entry["reason"]))
            out.print(f"[bold red]refused[/] {code}: {why}")
        out.print(
            f"{len(result['opened'])} opened, {len(result['refused'])} refused (decided by {escape(who)})"
        )
    if result["refused"]:
        from catalog.review.openreview import ReviewRefused

        raise typer.Exit(ReviewRefused.exit_code)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts per collection and stage, throughput, failures with their reasons, the
    quarantine, the last fixity audit, and the schedules with their next and last runs.
    Exits 7 when a schedule is overdue or Prefect's scheduler reports a problem."""
    from datetime import timedelta

    from catalog import crud
    from catalog.ops import operations
    from catalog.ops import schedules as catalog_schedules

    lease = timedelta(hours=get_settings().worker.lease_hours)
    with catalog_session() as session:
        report = crud.status_report(session)
        report["queue"] = operations.queue_depth(session)
        report["throughput"] = {
            "last_hour": operations.throughput(session, hours=1),
            "last_day": operations.throughput(session, hours=24),
        }
        report["in_progress"] = operations.in_progress(session)
        report["recent_runs"] = operations.recent_runs(session)
        report["audit"] = operations.last_audit(session)
        report["ingest_problems"] = operations.ingest_problems(session)
        report |= catalog_schedules.report(session, lease=lease)
    if as_json:
        print_json(report)
        if report["alarm"]:
            raise typer.Exit(7)
        return
    stages = list(report["totals"])
    table = Table("collection", *stages)
    for code, counts in report["collections"].items():
        table.add_row(code, *(str(counts[s]) for s in stages))
    table.add_row("[bold]total", *(f"[bold]{report['totals'][s]}" for s in stages))
    out.print(table)
    for window, t in report["throughput"].items():
        out.print(
            f"{window.replace('_', ' ')}: {t['pages']} pages ({t['pages_per_minute']}/min), "
            f"{t['audio_hours']} audio hours ({t['audio_hours_per_hour']}/hour)"
        )
    out.print(f"queue: {report['queue']} items waiting")
    for w in report["in_progress"]:
        out.print(printable(f"  processing: {w['reference_code']} {w['title']}"), markup=False)
    for f in report["failures"]:
        retry = f"  → {f['retry']}" if f["retry"] else ""
        out.print(
            printable(f"  {f['status']}: {f['reference_code']} {f['source_name']}: {f['reason']}{retry}"),
            markup=False,
        )
    for r in report["recent_runs"]:
        used = ", ".join(f"{k} {r[k]}" for k in ("engine", "model", "device", "compute_type") if r.get(k))
        options = r.get("options") or {}
        decoding = ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v not in (None, "", [], {}))
        out.print(
            printable(f"  {r['what']} {r['reference_code']} ({r['at']}): {used}; {decoding}"), markup=False
        )
    audit = report["audit"]
    if audit is None:
        out.print("fixity: no audit yet (lantai audit)")
    elif audit["passed"]:
        out.print(f"fixity: {audit['checked']} masters intact at {audit['at']}")
    else:
        out.print(
            f"[bold red]fixity: {len(audit['missing'])} missing, {len(audit['changed'])} changed "
            f"at {audit['at']}[/] (lantai audit)"
        )
    for p in report["ingest_problems"]:
        out.print(
            printable(
                f"  batch {p['collection']}/{p['batch']}"
                + (f" from {p['folder']}" if p.get("folder") else "")
                + f" ({p['at']}): {p['reason']}"
            ),
            markup=False,
        )
    _print_schedules(report)
    if report["alarm"]:
        raise typer.Exit(7)


def _print_schedules(report: dict[str, Any]) -> None:
    if not report["schedules"]:
        out.print("schedules: none served yet (lantai worker)")
    for s in report["schedules"]:
        last = s["last_run"]
        if not s["active"]:
            state = f"not served (last by {s['served_by'] or 'a work pool'}; start lantai worker)"
        else:
            state = f"next {s['next_run'] or '—'}"
        ran = (
            f"last run {last['started']} {last['outcome']}" + (f": {last['error']}" if last["error"] else "")
            if last["started"]
            else "never run"
        )
        line = f"schedule {s['name']} [{s['cron'] or 'on demand'}]: {state}; {ran}"
        out.print(escape(line), style="bold red" if s["overdue"] else None)
        for alarm in s["alarms"]:
            out.print(f"  [bold red]ALARM[/] {escape(alarm)}")
    for e in report["server_errors"]:
        out.print(f"[red]Prefect server error[/] {e['at']}: {escape(e['message'])}")


@app.command()
def audit(
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fixity audit: re-read every master, compare SHA-256 with the catalog, one event per
    object. Exits 6 when a master is missing or changed."""
    prepare_runtime()
    from flows.audit import audit_flow

    with progress_bars():
        result = run_flow(audit_flow, collection)
    if as_json:
        print_json(result)
    else:
        out.print(
            f"{result['checked']} masters checked, {result['ok']} intact, {result['bytes'] / 1e6:.1f} MB read"
        )
        for m in result["missing"]:
            out.print(f"[bold red]MISSING[/] {escape(m['reference_code'])} {escape(m['key'])}")
        for c in result["changed"]:
            out.print(f"[bold red]CHANGED[/] {escape(c['reference_code'])} {escape(c['key'])} {c['actual']}")
    if not result["passed"]:
        raise typer.Exit(6)


@app.command("list")
def list_items(
    collection: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="pending, enriched, failed, quarantined, …")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Items with their 档号, title, kind, source file, status and access."""
    from catalog import crud

    with catalog_session() as session:
        items = crud.list_items(session, collection=collection, status=status)
    if as_json:
        print_json([{k: v for k, v in i.items() if k != "collection"} for i in items])
        return
    table = Table("id", "档号", "title", "kind", "source", "status", "access", "flags")
    table.columns[1].no_wrap = True
    for i in items:
        table.add_row(
            str(i["item_id"]),
            escape(i["reference_code"]),
            escape(i["title"]),
            i["kind"],
            escape(i["source_name"]),
            i["status"],
            i["access"],
            str(i["flags"]),
        )
    out.print(table)


@app.command()
def export(
    item: Annotated[str, typer.Argument(help="item id or 档号 (a collection code for csv|xlsx|jsonl|bag)")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="item: txt|vtt|srt|json|dc|ohms|hocr|pdf; collection: csv|xlsx|jsonl; either: bag",
        ),
    ] = "txt",
    output: Annotated[
        Path | None,
        typer.Option("-o", help="file to write (default: stdout); for bag a folder (default: exports/)"),
    ] = None,
) -> None:
    """Export one item's record or text, a collection's catalogue, or a BagIt package."""
    import getpass

    from flows.export import export_bag, export_bag_to_store, export_item

    who = f"cli:{getpass.getuser()}"

    if format == "bag":
        with catalog_session() as session:
            if output is None:
                err.print(
                    f"bag written to object storage under {export_bag_to_store(session, item, agent=who)}"
                )
            else:
                err.print(f"bag written and validated: {export_bag(session, item, output, agent=who)}")
        return
    if format in ("pdf", "xlsx") and output is None and sys.stdout.isatty():
        raise LantaiError(f"the {format} export is binary: give -o FILE")
    with catalog_session() as session:
        if output is None:
            export_item(session, item, format, sys.stdout.buffer, agent=who)
            sys.stdout.flush()
        else:
            write_atomically(output, lambda fh: export_item(session, item, format, fh, agent=who))
            err.print(f"wrote {escape(str(output))}")


@app.command()
def replicate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Copy masters and catalog exports to the replica store (异地备份), incrementally,
    each copy verified by SHA-256. Exits 4 when an object could not be replicated."""
    prepare_runtime()
    from flows.replicate import replicate_flow

    with progress_bars():
        result = run_flow(replicate_flow)
    if as_json:
        print_json(result)
    else:
        out.print(
            f"replica {escape(result['target'])}: {result['copied']} masters copied "
            f"({result['bytes'] / 1e6:.1f} MB), {result['skipped']} present, {result['exports']} exports"
        )
        for f in result["failed"]:
            out.print(f"[bold red]FAILED[/] {escape(f['key'])}: {escape(f['reason'])}")
    if result["failed"]:
        raise typer.Exit(4)


@app.command()
def worker(
    port: Annotated[
        int, typer.Option(help="port of the local Prefect server started when none is configured")
    ] = 4200,
) -> None:
    """Serve Lantai's deployments and schedules (Prefect serve): inbox sweep, nightly fixity
    audit, weekly replication, and enrich on demand. Uses the Prefect server in
    PREFECT_API_URL; without one, starts a local server (UI at http://127.0.0.1:PORT)."""
    import os

    prepare_runtime()
    migrate_now()
    settings = get_settings()
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        from lantai.prefect_server import start_local_server

        server = start_local_server(settings.home_dir / "prefect", port)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        err.print(f"started a local Prefect server: UI at http://127.0.0.1:{port}")
    from prefect import serve as prefect_serve

    from catalog.db import session_scope
    from catalog.ops import schedules as catalog_schedules
    from flows.schedules import deployments, scheduled
    from lantai.worker_watch import Watchdog

    served = scheduled(settings)
    name = settings.worker.worker_name
    with session_scope(settings) as session:
        catalog_schedules.register(session, worker=name, schedules=[s for s in served if s[2]])
    watchdog = Watchdog(
        settings,
        served,
        server_log=server.log if server is not None else None,
        echo=lambda text: err.print(printable(text), markup=False, highlight=False, soft_wrap=True),
        interval=settings.worker.watch_seconds,
    )
    watchdog.start()
    err.print(f"worker {name}: serving {', '.join(d.name for d in deployments(settings))}")
    for sched_name, _flow, cron, timezone in served:
        if cron:
            err.print(f"  {sched_name}: {cron} ({timezone})", markup=False)
    try:
        prefect_serve(*deployments(settings), limit=settings.worker.runs)
    finally:
        watchdog.stop()
        with session_scope(settings) as session:
            catalog_schedules.stop_serving(session, worker=name)
        if server is not None:
            server.stop()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="reverse proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, or *); "
            "default: LANTAI_WEB__FORWARDED_ALLOW_IPS, empty: none"
        ),
    ] = None,
) -> None:
    """Run the web application. Behind a reverse proxy that terminates HTTPS, name it with
    --forwarded-allow-ips so that client addresses (sign-in throttling, audit) and the
    HTTPS scheme (Secure cookies) are the real ones."""
    import uvicorn

    from web.app import create_app

    prepare_runtime()
    migrate_now()
    settings = get_settings()
    trusted = settings.web.forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=bool(trusted.strip()),
        forwarded_allow_ips=trusted.strip() or None,
    )


@app.command()
def demo() -> None:
    """The main job on embedded defaults: ingest the shipped samples, enrich, summarise."""
    run_demo()


def main() -> None:
    """Entry point: one place where Lantai's errors become messages and exit codes."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(N) comes back as N here
        if isinstance(code, int) and code:
            sys.exit(code)
    except LantaiError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}")
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise
