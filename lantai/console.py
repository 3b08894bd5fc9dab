"""What every ``lantai`` command shares: the consoles, the catalog session, progress bars,
text from records made safe for a terminal, and the printers of the flows' reports."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from configs import get_settings
from configs.errors import BadInputError

out = Console(soft_wrap=True)
err = Console(stderr=True)
REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "demo"


def prepare_runtime() -> None:
    from lantai.runtime import prepare

    prepare(get_settings())


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[None]:
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


def catalog_session() -> AbstractContextManager[Session]:
    from catalog.db import session_scope

    return session_scope(get_settings())


def run_flow(flow_obj: Any, *args: Any) -> Any:
    """A flow from the command line: tracked by the configured Prefect server or a running
    worker's, in this process otherwise (no temporary server to start: see flows.runner)."""
    from flows.runner import run_flow as run

    return run(flow_obj, *args)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def migrate_now(echo: bool = True) -> dict[str, Any]:
    """Bring the catalog's schema and search index to this version (``lantai migrate``)."""
    from catalog.db import migrate as migrate_catalog

    def progress(done: int, total: int) -> None:
        if echo:
            err.print(f"search index: {done:,} of {total:,} items rebuilt", highlight=False)

    report = migrate_catalog(get_settings().db_url, progress)
    if echo and report["was"] != "current":
        schema = (
            f"schema {report['from'] or 'new'} → {report['to']}"
            if report["from"] != report["to"]
            else f"schema {report['to']}"
        )
        err.print(
            f"catalog {escape(report['database'])}: {schema}, search index current"
            + (f" ({report['items_reindexed']} items reindexed)" if report["items_reindexed"] else "")
        )
    return report


def escape(text: str) -> str:
    """Text from a record for the terminal: rich markup escaped, and control characters
    (escape sequences that could rewrite the screen) shown as visible code points."""
    from rich.markup import escape as markup_escape

    return markup_escape(printable(text))


def printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\t\n" else f"\\x{ord(ch):02x}" for ch in text)


def unescape(snippet: str) -> str:
    import html

    from rich.markup import escape as markup_escape

    # the snippet is HTML-escaped with <mark> turned into rich tags; make the rest literal
    parts = snippet.replace("[reverse red]", "\2").replace("[bold red]", "\0").replace("[/]", "\1")
    parts = markup_escape(html.unescape(parts))
    return parts.replace("\0", "[bold red]").replace("\1", "[/]").replace("\2", "[reverse red]")


def location_text(location: dict[str, Any]) -> str:
    if "page" in location:
        return f"page {location['page']} box {location.get('bbox')}"
    if "start" in location:
        return f"{mmss(location['start'])}–{mmss(location['end'])}"
    return "description"


def mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def print_ingest(report: dict[str, Any]) -> None:
    c = report["counts"]
    out.print(
        f"[bold]ingest[/] {escape(report['prefix'])}: {c['ingested']} new items, {c['attached']} files "
        f"added to items, {c['duplicate']} duplicates, {c['quarantined']} quarantined"
        + (f", [bold red]{c['failed']} failed[/] (left in the inbox)" if c.get("failed") else "")
    )
    for r in report["results"]:
        if r["outcome"] in ("quarantined", "duplicate", "failed"):
            out.print(printable(f"  {r['outcome']}: {r['name']} — {r['reason']}"), markup=False)
    for e in report["manifest_errors"]:
        out.print(printable(f"  manifest: {e}"), markup=False)
    batches = report.get("batches", [])
    for b in batches:  # one line per batch when there are several, and for every batch not in
        if b["state"] != "ingested" or len(batches) > 1:
            where = f" ({b['folder']})" if b.get("folder") else ""
            why = f": {b['reason']}" if b.get("reason") else ""
            out.print(
                printable(f"  batch {b['collection']}/{b['batch']}{where} {b['state']}{why}"), markup=False
            )


def print_outcomes(outcomes: list[dict[str, Any]]) -> None:
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


def write_atomically(output: Path, write: Any) -> None:
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
