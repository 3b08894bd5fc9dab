"""``lantai config``: the effective settings and where each comes from."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from configs import get_settings
from configs.explain import explain

config_app = typer.Typer(
    invoke_without_command=True,
    help="The effective settings, each with where its value came from (secrets redacted).",
)


def _collection_layer(code: str) -> dict[str, tuple[Any, str]]:
    """A collection's own processing defaults, as enrichment applies them."""
    from sqlmodel import select

    from catalog.db import session_scope
    from catalog.models import Collection

    with session_scope(get_settings()) as s:
        coll = s.exec(select(Collection).where(Collection.code == code)).first()
        if coll is None:
            Console(stderr=True).print(f"[red]no collection {code!r}[/red]")
            raise typer.Exit(2)
        source = f"collection {code}"
        layer: dict[str, tuple[Any, str]] = {"ocr.languages": (coll.ocr_languages, source)}
        if coll.asr_language:
            layer["asr.language"] = (coll.asr_language, source)
        if coll.script:
            layer["asr.script"] = (coll.script, source)
        return layer


def _show(prefix: str, collection: str | None, as_json: bool) -> None:
    overrides = _collection_layer(collection) if collection else None
    rows = [s for s in explain(get_settings(), overrides=overrides) if s.key.startswith(prefix)]
    if prefix and not rows:
        Console(stderr=True).print(f"[red]no setting starts with {prefix!r}[/red]")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("setting", "value", "from", box=None, pad_edge=False)
    for r in rows:
        table.add_row(r.key, json.dumps(r.value, ensure_ascii=False), r.source)
    Console(soft_wrap=True).print(table)


@config_app.callback()
def config_main(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="a list of {key, value, source, env}")] = False,
) -> None:
    if ctx.invoked_subcommand is None:
        _show("", None, as_json)


@config_app.command("show")
def config_show(
    prefix: Annotated[str, typer.Argument(help="only settings whose key starts with this, e.g. asr")] = "",
    collection: Annotated[
        str | None, typer.Option(help="also this collection's own OCR/ASR defaults, as enrichment uses them")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a list of {key, value, source, env}")] = False,
) -> None:
    """Every setting: its effective value and its source (default, default.toml, the
    $LANTAI_CONFIG file, an environment variable, the collection)."""
    _show(prefix, collection, as_json)
