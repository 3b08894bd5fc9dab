"""``lantai harvest`` and ``lantai partners``: the union catalog (跨馆查询) and the archives that
may forward copy requests here (跨馆出证)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from configs.errors import BadInputError
from lantai.console import (
    catalog_session,
    escape,
    out,
    prepare_runtime,
    print_json,
    run_flow,
)

harvest_app = typer.Typer(
    no_args_is_help=True, help="Other archives' OAI-PMH feeds: the union catalog (跨馆查询)."
)
partners_app = typer.Typer(
    no_args_is_help=True, help="Archives that may forward copy requests here (跨馆出证)."
)


def union_hits(session: Any, query: str, limit: int) -> list[dict[str, Any]]:
    """Union-catalog records in the shape of search results (no item id here: another
    archive holds them), with the holder's name and the link to its public page."""
    from catalog.publish import union

    return [
        {
            "item_id": None,
            "reference_code": h.reference_code,
            "title": h.title,
            "kind": h.kind,
            "snippet": h.snippet,
            "location": {},
            "hit_count": 1,
            "hits": [{"snippet": h.snippet, "location": {}, "field": "union"}],
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
    with catalog_session() as session:
        source = union.add_source(session, name=name, url=url, set_spec=set_spec, key=key)
        added = f"source {escape(source.name)} added: {escape(source.url)}"
        out.print(f"{added} (run: lantai harvest run {escape(source.name)})")


@harvest_app.command("run")
def harvest_run(
    name: Annotated[str | None, typer.Argument(help="one source; default: all")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Harvest (incrementally, resuming an interrupted run) every source or the one named.
    Exits 1 when a source failed; the others are harvested all the same."""
    from flows.harvest import harvest_flow

    prepare_runtime()
    results = run_flow(harvest_flow, name)
    if as_json:
        print_json(results)
    else:
        for r in results:
            state = "[green]ok[/]" if r["status"] == "ok" else f"[red]failed[/]: {escape(r['error'])}"
            counts = f"{r['added']} added or changed, {r['deleted']} deleted, {r['rejected']} rejected"
            out.print(f"{escape(r['source'])}: {state} · {counts} · {r['records']} records")
    if any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


@harvest_app.command("list")
def harvest_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Sources with the state of their last harvest."""
    from catalog.publish import union

    with catalog_session() as session:
        rows = [
            {"name": s.name, "url": s.url, "set": s.set_spec, "holder": s.repository_name, "status": s.status,
             "error": s.error, "records": s.records, "last_run_at": s.last_run_at, "forwarding": bool(s.key)}
            for s in union.sources(session)
        ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    for r in rows:
        error = f"  [red]{escape(str(r['error']))}[/]" if r["error"] else ""
        name, url = escape(str(r["name"])), escape(str(r["url"]))
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
    with catalog_session() as session:
        session.merge(Partner(name=name.strip()[:64], key=key))
    out.print(f"partner {escape(name)} may forward copy requests")
