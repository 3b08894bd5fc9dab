"""``lantai users``: accounts of the web UI."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from catalog.models import EventType
from lantai.console import (
    catalog_session,
    out,
)

users_app = typer.Typer(no_args_is_help=True, help="Web UI accounts.")


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
    with catalog_session() as session:
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

    with catalog_session() as session:
        rows = [
            {"name": u.name, "role": u.role, "active": u.active}
            for u in session.exec(select(User).order_by(User.name)).all()
        ]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        out.print(f"{r['name']:20} {r['role']:10} {'active' if r['active'] else 'disabled'}")
