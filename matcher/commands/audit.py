"""`matcher audit export`: the audit log as JSON lines, for the data-protection officer."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from matcher.commands._common import friendly_errors
from matcher.config import get_settings
from matcher.storage import AuditEntry, AuditRepository, open_database, transaction

app = typer.Typer(help="The audit log.", no_args_is_help=True)


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since: '{value}' is not an ISO date or time, e.g. 2026-11-01 or 2026-11-01T08:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option(help="only entries at or after this ISO date/time (UTC if no zone)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Write audit entries as JSON lines (oldest first). The export itself is audited."""
    with friendly_errors(ValueError, OSError):
        start = _since(since)
        db, sessions = open_database(get_settings().database_url)
        with transaction(sessions) as session:
            repo = AuditRepository(session)
            repo.record(None, "audit export", [AuditEntry("audit.export", "audit_log", "*", {"since": since})])
        count = 0
        with sessions() as session:
            stream: TextIO = out.open("w", encoding="utf-8") if out else sys.stdout
            try:
                for row in AuditRepository(session).since(start):
                    record = {
                        "id": row.id,
                        "at": row.at.isoformat(),
                        "key_id": row.key_id,
                        "action": row.action,
                        "purpose": row.purpose,
                        "subject_type": row.subject_type,
                        "subject_id": row.subject_id,
                        "details": row.details,
                    }
                    stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
            finally:
                if out:
                    stream.close()
        db.dispose()
    if out:
        typer.echo(f"wrote {count} audit entries to {out}", err=True)
