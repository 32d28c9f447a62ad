"""`matcher demo`: a fresh SQLite database under var/demo/ with synthetic Slagelse-area data, a consultant key and
an employer key, then the API — or, with ``--no-serve``, a few ranked, explained candidates for one vacancy.

The synthetic citizens' protected attributes (gender, birth year, origin) are stored in their own table, as a
municipality would supply them for fairness audits (`matcher audit fairness`); the engine never reads them."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from matcher.commands._common import friendly_errors
from matcher.config import REPO_ROOT, Settings, get_settings
from matcher.storage import (
    AuditAttributesRepository,
    CitizenRepository,
    EmployerRepository,
    KeyRepository,
    NeedRepository,
    open_database,
    transaction,
)

DEMO_DIR = REPO_ROOT / "var" / "demo"


def _fresh_database() -> str:
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    path = DEMO_DIR / "demo.sqlite"
    for suffix in ("", "-wal", "-shm"):
        (path.parent / (path.name + suffix)).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def demo(
    citizens: Annotated[int, typer.Option(min=1, max=200_000, help="synthetic citizens")] = 2000,
    vacancies: Annotated[int, typer.Option(min=1, max=50_000, help="synthetic needs")] = 300,
    seed: Annotated[int, typer.Option(min=0)] = 7,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the API afterwards")] = True,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Build the demo database and show (or serve) the ranked lists."""
    from matcher.synthetic import generate

    with friendly_errors(ValueError, OSError):
        started = time.perf_counter()
        url = _fresh_database()
        settings: Settings = get_settings().model_copy(update={"database_url": url})
        world = generate(citizens, vacancies, seed=seed)
        db, sessions = open_database(url)
        with transaction(sessions) as session:
            employers = EmployerRepository(session)
            employer_ids = [employers.add(e).id for e in world.employers]
            # synthetic needs name their employer by 1-based position; map to the stored ids
            needs = [v.model_copy(update={"employer_id": employer_ids[v.employer_id - 1]}) for v in world.vacancies]
            citizen_ids = CitizenRepository(session).add_many(world.citizens)
            AuditAttributesRepository(session).add_many(list(zip(citizen_ids, world.protected, strict=True)))
            need_ids = NeedRepository(session).add_many(needs)
            keys = KeyRepository(session)
            _, consultant_key = keys.create("consultant", label="demo consultant")
            first_employer = needs[0].employer_id
            _, employer_key = keys.create("employer", employer_id=first_employer, label="demo employer")
        db.dispose()
        typer.echo(
            f"demo database {url.removeprefix('sqlite:///')}: {len(world.employers)} employers, "
            f"{len(world.citizens)} citizens, {len(needs)} needs ({time.perf_counter() - started:.1f} s)"
        )
        _nightly_run(settings)
        typer.echo(f"consultant key: {consultant_key}")
        typer.echo(f"employer key (employer {first_employer}): {employer_key}")
        if not serve:
            _show(settings, need_ids[0])
            return
    from matcher.commands.serve import run_server

    typer.echo(f"serving http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs; Ctrl-C stops)")
    run_server(settings, host, port)


def _nightly_run(settings: Settings) -> None:
    """The main job on the demo data: the nightly re-rank with its placement plan, as `matcher rerank` runs it."""
    from matcher.batch import RerankJob, RerankOptions
    from matcher.storage import make_engine, session_factory
    from matcher.taxonomy import get_taxonomy, load_postcodes

    started = time.perf_counter()
    engine = make_engine(settings.database_url)
    job = RerankJob(
        settings, session_factory(engine), get_taxonomy(), load_postcodes(settings.data_dir), RerankOptions()
    )
    job.prepare()
    outcome = job.run()
    engine.dispose()
    plan, greedy = outcome.report.get("optimal"), outcome.report.get("greedy")
    typer.echo(f"nightly run {outcome.run_id} {outcome.status} in {time.perf_counter() - started:.1f} s")
    if plan and greedy:
        typer.echo(
            f"placement plan: {plan['citizens_with_proposal']} citizens proposed, {plan['positions_filled']} of "
            f"{plan['positions_total']} positions filled, {plan['overqualified_assignments']} over-qualified "
            f"(greedy baseline: {greedy['positions_filled']} filled, {greedy['overqualified_assignments']} "
            "over-qualified)"
        )


def _show(settings: Settings, need_id: int) -> None:
    """Rank candidates for one need through the same engine the API uses and print them, explained."""
    from matcher.api import build_state

    state = build_state(settings)
    facts = state.index.need(need_id)
    assert facts is not None
    matches = state.index.candidates(need_id, limit=5, offset=0, filters=None)
    typer.echo(f"\ntop candidates for need {need_id} '{facts.title}' ({facts.kind}):")
    for rank, m in enumerate(matches, start=1):
        who = state.index.citizen(m.citizen_id)
        typer.echo(f"{rank}. citizen {m.citizen_id} ({who.external_ref if who else '?'}) score {m.score:.2f}")
        for line in m.explanation.en[:3]:
            typer.echo(f"     {line}")
    if not matches:
        typer.echo("   (no candidate passes the gates for this need)")
    state.db.dispose()
