"""`matcher import FILE --kind ...` and `matcher export --kind ... --out FILE`: citizens, vacancies and employers
as JSON lines (``.jsonl``/``.ndjson``), a JSON array (``.json``) or CSV (``.csv``: one column per top-level field,
nested values as JSON in the cell, empty cells left out).

Import follows the bulk API's rule: every item is validated and normalised first; if any is bad, every error is
printed and nothing is written (exit code 1). It writes to the database only: a running server sees imported
rows after its next start (feed a running server through ``POST /v1/citizens:bulk`` instead).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from matcher.commands._common import err_console, friendly_errors
from matcher.config import get_settings
from matcher.storage import (
    AuditEntry,
    AuditRepository,
    CitizenRepository,
    EmployerRepository,
    NeedRepository,
    open_database,
    transaction,
)


class Kind(StrEnum):
    citizens = "citizens"
    vacancies = "vacancies"
    employers = "employers"


def read_items(path: Path) -> list[Any]:
    """The items of a JSONL, JSON-array or CSV file (chosen by extension)."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".csv":
        return [_from_csv_row(row) for row in csv.DictReader(text.splitlines())]
    if suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json file must hold a JSON array of items")
        return data
    if suffix in (".jsonl", ".ndjson"):
        items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        return items
    raise ValueError(f"{path}: use a .jsonl, .ndjson, .json or .csv file")


def _from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, cell in row.items():
        if cell is None or cell == "":
            continue
        if cell[:1] in "[{":
            try:
                out[key] = json.loads(cell)
                continue
            except json.JSONDecodeError:
                pass
        out[key] = cell
    return out


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, JSON array or CSV")],
    kind: Annotated[Kind, typer.Option(help="what the file holds")],
) -> None:
    """Import citizens, vacancies or employers: all or nothing."""
    from matcher.api import prepare_citizens, prepare_employers, prepare_vacancies

    with friendly_errors(ValueError, OSError):
        items = read_items(file)
        db, sessions = open_database(get_settings().database_url)
        with transaction(sessions) as session:
            if kind is Kind.employers:
                employers, errors = prepare_employers(items)
                _fail_on(errors, len(items), file)
                repo = EmployerRepository(session)
                ids = [repo.add(e).id for e in employers]
            elif kind is Kind.citizens:
                from matcher.taxonomy import get_normalizer

                citizens, errors = prepare_citizens(session, items, get_normalizer())
                _fail_on(errors, len(items), file)
                ids = CitizenRepository(session).add_many(citizens)
            else:
                from matcher.taxonomy import get_normalizer

                vacancies, errors = prepare_vacancies(session, items, get_normalizer())
                _fail_on(errors, len(items), file)
                ids = NeedRepository(session).add_many(vacancies)
            subject = {"citizens": "citizen", "vacancies": "vacancy", "employers": "employer"}[kind.value]
            entries = [AuditEntry(f"{subject}.create", subject, i, {"import": file.name}) for i in ids]
            AuditRepository(session).record(None, "data import", entries)
        db.dispose()
    typer.echo(f"imported {len(ids)} {kind.value} from {file}")


def _fail_on(errors: list[Any], n_items: int, file: Path) -> None:
    if not errors:
        return
    for e in errors:
        err_console.print(
            f"{file}: item {e.index} (line {e.index + 1} of JSONL): {e.field}: {e.reason}", highlight=False
        )
    bad = len({e.index for e in errors})
    raise ValueError(f"{bad} of {n_items} items are invalid; nothing was imported")


def _documents(kind: Kind, session: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if kind is Kind.citizens:
        for row in CitizenRepository(session).all():
            yield row.id, row.profile
    elif kind is Kind.vacancies:
        for need in NeedRepository(session).all():
            yield need.id, need.document
    else:
        for emp in EmployerRepository(session).all():
            doc = {"name": emp.name, "cvr": emp.cvr, "postcode": emp.postcode, "industry": emp.industry}
            yield emp.id, {k: v for k, v in doc.items() if v is not None}


def export(
    kind: Annotated[Kind, typer.Option(help="what to export")],
    out: Annotated[Path | None, typer.Option(help=".jsonl (default, also stdout), .json or .csv")] = None,
) -> None:
    """Export in id order, in the import format (so an export can be imported elsewhere). Exporting citizens is
    audited per citizen."""
    with friendly_errors(ValueError, OSError):
        db, sessions = open_database(get_settings().database_url)
        with sessions() as session:
            rows = list(_documents(kind, session))
        if kind is Kind.citizens:
            with transaction(sessions) as session:
                entries = [AuditEntry("citizen.export", "citizen", cid, {"bulk": True}) for cid, _ in rows]
                AuditRepository(session).record(None, "data export", entries)
        db.dispose()
        docs = [doc for _, doc in rows]
        suffix = out.suffix.lower() if out else ".jsonl"
        stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            if suffix == ".csv":
                _write_csv(docs, stream)
            elif suffix == ".json":
                json.dump(docs, stream, ensure_ascii=False)
            else:
                for doc in docs:
                    stream.write(json.dumps(doc, ensure_ascii=False) + "\n")
        finally:
            if out:
                stream.close()
    if out:
        typer.echo(f"wrote {len(docs)} {kind.value} to {out}", err=True)


def _write_csv(docs: list[dict[str, Any]], stream: Any) -> None:
    fields = list(dict.fromkeys(key for doc in docs for key in doc))
    writer = csv.DictWriter(stream, fieldnames=fields)
    writer.writeheader()
    for doc in docs:
        writer.writerow(
            {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for k, v in doc.items()}
        )
