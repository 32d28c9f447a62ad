"""`matcher audit export`: the audit log as JSON lines, for the data-protection officer. `matcher audit fairness`:
the fairness audit of the live data (exposure, score at equal skill, proposals by group; docs/fairness.md)."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from matcher.commands._common import friendly_errors
from matcher.config import get_settings
from matcher.storage import AuditEntry, AuditRepository, open_database, transaction

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from matcher.evaluation.fairness import FairnessReport, RankedLists
    from matcher.storage import RankingRunRow

app = typer.Typer(help="The audit log and the fairness audit.", no_args_is_help=True)


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


FORMATS = ("table", "csv", "json")


def _stored_lists(session: Session, run: RankingRunRow, k: int) -> RankedLists:
    """The run's per-need lists (cut to ``k``) and its placement plan."""
    import numpy as np
    from sqlalchemy import select

    from matcher.evaluation.fairness import RankedLists
    from matcher.storage import RankingResultRow
    from matcher.storage._tables import RankingListRow

    rows = session.execute(
        select(RankingListRow.owner_id, RankingListRow.ids)
        .where(RankingListRow.run_id == run.id, RankingListRow.direction == "need")
        .order_by(RankingListRow.owner_id)
    ).all()
    ranked = np.full((len(rows), k), -1, dtype=np.int64)
    for r, (_, ids) in enumerate(rows):
        head = list(ids)[:k]
        ranked[r, : len(head)] = head
    plan = session.scalars(
        select(RankingResultRow.citizen_id).where(
            RankingResultRow.run_id == run.id, RankingResultRow.direction == "plan"
        )
    )
    when = run.finished_at.date().isoformat() if run.finished_at else "?"
    return RankedLists(
        need_ids=np.array([owner for owner, _ in rows], dtype=np.int64),
        need_citizen_ids=ranked,
        plan_citizen_ids=np.fromiter(plan, dtype=np.int64),
        source=f"ranking run {run.id} ({when}, top {run.top_k})",
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _print_tables(report: FairnessReport) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or redirected: room for every column rather than 80 characters
        console = Console(width=240)
    meta = report.meta()
    console.print(
        f"fairness audit on {meta['as_of']}: {meta['n_citizens']} citizens, {meta['n_needs']} needs, top {meta['k']} "
        f"of each need's list; ranking: {meta['source']}; scores: {meta['scorer']}; reference groups: "
        + ", ".join(f"{dim} {group}" for dim, group in meta["references"].items()),
        highlight=False,
    )
    titles = {
        "exposure": "(a) exposure in the top k vs the share of eligible citizens (ratio 1 = in proportion)",
        "score_at_equal_skill": "(b) mean score and gate pass rate at equal skill, difference to the reference group",
        "proposals": "(c) citizens with a proposal in the placement plan",
    }
    for name, title in titles.items():
        frame = report.tables()[name]
        table = Table(title=title, title_justify="left")
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            table.add_column(column, justify="right" if numeric else "left", no_wrap=not numeric)
        for record in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in record))
        console.print(table)
    console.print("per-stratum scores: --format csv or json (table score_by_stratum)", highlight=False)


def _csv(report: FairnessReport) -> str:
    import pandas as pd

    frames = [table.assign(table=name) for name, table in report.tables().items()]
    merged: pd.DataFrame = pd.concat(frames, ignore_index=True)
    ordered = ["table", *[c for c in merged.columns if c != "table"]]
    return str(merged[ordered].to_csv(index=False, float_format="%.6g"))


def _attributes(rows: list[tuple[int, str | None, int | None, str | None]]) -> pd.DataFrame | None:
    from matcher.evaluation.fairness import attributes_frame

    return attributes_frame(rows) if rows else None


@app.command("fairness")
def fairness(
    k: Annotated[int, typer.Option(min=1, max=1000, help="list positions per need that count as exposure")] = 20,
    output_format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    database_url: Annotated[
        str | None, typer.Option(help="the database to audit (default: MATCHER_DATABASE_URL / settings)")
    ] = None,
) -> None:
    """Exposure in the top k, mean score at equal skill and placement-plan proposals, by target group, Danish vs
    foreign qualification, gender, age band and origin. Uses the latest completed ranking run when there is one
    (else ranks now with the engine). Protected attributes come from their own table (`PUT
    /v1/citizens/{id}/audit-attributes`); citizens without them count as 'unknown'. The audit is audit-logged."""
    with friendly_errors(ValueError, OSError):
        if output_format not in FORMATS:
            raise ValueError(f"--format: must be one of {', '.join(FORMATS)}, not '{output_format}'")
        report = _fairness_report(k, database_url)
        if output_format == "json":
            typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        elif output_format == "csv":
            sys.stdout.write(_csv(report))
        else:
            _print_tables(report)


def _fairness_report(k: int, database_url: str | None) -> FairnessReport:
    from matcher.batch import latest_completed
    from matcher.evaluation.fairness import fairness_audit
    from matcher.ranking import choose_scorer
    from matcher.storage import AuditAttributesRepository, CitizenRepository, NeedRepository
    from matcher.taxonomy import get_taxonomy, load_postcodes

    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    db, sessions = open_database(settings.database_url)
    try:
        with sessions() as session:
            citizens = list(CitizenRepository(session).profiles())
            needs = list(NeedRepository(session).vacancies())
            if not citizens:
                raise ValueError("the database holds no citizens: nothing to audit (load profiles, or `matcher demo`)")
            if not needs:
                raise ValueError("the database holds no needs: no ranking to audit (load vacancies first)")
            attributes = AuditAttributesRepository(session).all()
            run = latest_completed(session)
            lists = _stored_lists(session, run, k) if run is not None and run.top_k >= k else None
            as_of = run.as_of if lists is not None and run is not None and run.as_of else dt.date.today()
        if run is not None and lists is None:
            typer.echo(f"ranking run {run.id} kept only the top {run.top_k}; ranking now for --k {k}", err=True)
        with transaction(sessions) as session:
            AuditRepository(session).record(
                None,
                "fairness audit",
                [AuditEntry("audit.fairness", "citizen", "*", {"citizens": len(citizens), "with_attributes":
                                                               len(attributes), "k": k})],
            )
    finally:
        db.dispose()
    taxonomy = get_taxonomy()
    return fairness_audit(
        citizens,
        needs,
        _attributes(attributes),
        taxonomy=taxonomy,
        postcodes=load_postcodes(settings.data_dir),
        policy=settings.scoring,
        as_of=as_of,
        k=k,
        scorer=choose_scorer(settings, taxonomy),  # the scorer the service and the nightly run use
        lists=lists,
        memory_budget_mb=settings.memory_budget_mb,
    )
