"""`matcher rerank`: the nightly run — score everything in blocks, keep top-k both ways, plan placements.

Resumes an unfinished run with the same configuration and data automatically (``--fresh`` starts over); a run
identical to the latest completed one is not repeated. Exit code 0 on success, 1 on an error (the run is marked
failed and stays resumable), 3 when another run is in progress.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from matcher.commands._common import err_console, friendly_errors

log = logging.getLogger(__name__)


def rerank(
    resume: Annotated[
        bool, typer.Option("--resume/--fresh", help="resume an unfinished run with the same config (default) "
                           "or start a fresh one")
    ] = True,
    block_size: Annotated[
        int | None, typer.Option("--block-size", min=1, help="citizens per block (default: from the data size)")
    ] = None,
    dask: Annotated[
        str | None, typer.Option("--dask", help="'local' (a LocalCluster here) or a scheduler, tcp://host:8786")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="workers of a --dask local cluster")] = 2,
    throttle: Annotated[
        float, typer.Option("--throttle", min=0, help="seconds to pause after each block (leave CPU to others)")
    ] = 0.0,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="scoring date YYYY-MM-DD (default today)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON instead of tables")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Re-rank everything and write the placement plan (the nightly job)."""
    from matcher.batch import RerankJob, RerankOptions, RunInProgressError
    from matcher.config import get_settings
    from matcher.storage import make_engine, session_factory, upgrade
    from matcher.taxonomy import get_taxonomy, load_postcodes

    with friendly_errors(ValueError, OSError, RuntimeError):
        day = dt.date.fromisoformat(as_of) if as_of else None
        settings = get_settings()
        options = RerankOptions(block_size=block_size, fresh=not resume, throttle_s=throttle, dask=dask,
                                dask_workers=workers)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        job = RerankJob(settings, session_factory(engine), get_taxonomy(), load_postcodes(settings.data_dir), options)
        busy: str | None = None
        try:
            run_id, how = job.prepare(day)
        except RunInProgressError as exc:
            busy = str(exc)
    if busy is not None:  # outside friendly_errors: typer.Exit is a RuntimeError too
        err_console.print(f"[yellow]busy:[/yellow] {busy}")
        engine.dispose()
        raise typer.Exit(code=3)
    with friendly_errors(ValueError, OSError, RuntimeError, SQLAlchemyError):  # the run is marked failed
        console = Console(stderr=True)
        if not quiet:
            console.print(f"ranking run {run_id}: {how}")
        with Progress(
            TextColumn("blocks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, disable=quiet or as_json,
        ) as bar:
            task = bar.add_task("blocks", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            outcome = job.run(progress)
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"run_id": outcome.run_id, "how": outcome.how, "status": outcome.status,
                               "blocks_total": outcome.blocks_total, "blocks_computed": outcome.blocks_computed,
                               "report": outcome.report}))
        return
    out = Console()
    out.print(f"run {outcome.run_id} {outcome.status} ({outcome.how}); blocks computed {outcome.blocks_computed}"
              f" of {outcome.blocks_total}")
    report = outcome.report
    if "optimal" in report:
        table = Table(title="placement plan vs greedy baseline")
        table.add_column("")
        table.add_column("optimal (min-cost flow)", justify="right")
        table.add_column("greedy", justify="right")
        for key in ("citizens_with_proposal", "positions_filled", "mean_score", "total_value",
                    "overqualified_assignments", "seconds"):
            table.add_row(key, str(report["optimal"][key]), str(report["greedy"][key]))
        out.print(table)
        out.print(f"positions total {report['optimal']['positions_total']}; over-qualified means "
                  f"{report['overqualified_definition']}")
        out.print(
            f"citizens without usable profile {report['citizens_without_usable_profile']}, needs with capacity 0 "
            f"{report['needs_with_capacity_0']}, citizens without match {report['citizens_without_match']}, "
            f"needs without candidates {report['needs_without_candidates']}"
        )
    if "timings" in report:
        out.print("timings: " + ", ".join(f"{k} {v}" for k, v in report["timings"].items()))
