"""`matcher keys ...`: create, list and revoke API keys. Only a key's sha256 hash is stored; the key itself is
printed once, alone on the last line, so scripts can take it with ``tail -n 1``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from matcher.commands._common import friendly_errors
from matcher.config import get_settings
from matcher.storage import ROLES, KeyRepository, NotFoundError, open_database, transaction

app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
console = Console()


@app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"one of: {', '.join(ROLES)}")],
    employer_id: Annotated[int | None, typer.Option(help="the employer an employer key belongs to")] = None,
    label: Annotated[str | None, typer.Option(help="a note, e.g. who holds the key")] = None,
) -> None:
    """Create a key and print it (last line). Store it now: it cannot be shown again."""
    with friendly_errors(ValueError, NotFoundError, OSError):
        db, sessions = open_database(get_settings().database_url)
        with transaction(sessions) as session:
            row, key = KeyRepository(session).create(role, employer_id=employer_id, label=label)
        db.dispose()
    typer.echo(f"created key {row.id} (role {row.role}" + (f", employer {employer_id})" if employer_id else ")"))
    typer.echo(key)


@app.command("list")
def list_keys() -> None:
    """Every key's id, role, employer, creation and revocation time (never the key)."""
    with friendly_errors(OSError):
        db, sessions = open_database(get_settings().database_url)
        with sessions() as session:
            rows = KeyRepository(session).list()
        db.dispose()
    table = Table("id", "role", "employer", "label", "created", "revoked")
    for r in rows:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else ""
        table.add_row(
            str(r.id), r.role, str(r.employer_id or ""), r.label or "", r.created_at.isoformat(timespec="seconds"),
            revoked,
        )  # fmt: skip
    console.print(table)


@app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="the key's id (see `matcher keys list`)")]) -> None:
    """Revoke a key. A running server stops accepting it within a few seconds."""
    with friendly_errors(NotFoundError, OSError):
        db, sessions = open_database(get_settings().database_url)
        with transaction(sessions) as session:
            KeyRepository(session).revoke(key_id)
        db.dispose()
    typer.echo(f"revoked key {key_id}")
