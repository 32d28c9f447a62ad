"""`matcher serve`: the v1 HTTP API under uvicorn.

Each worker process holds its own in-memory match index and keeps it in step with every write committed by any
process through the database's change feed (matcher/api/_follow.py), so ``--workers N`` scales searches across
cores: a search is CPU-bound Python and one process uses about one core. Each worker holds a full index (memory
× N). Threads (FastAPI's pool) give concurrency within a process.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from matcher.config import Settings, get_settings

# uvicorn's supervisor pings every worker each half second and kills and replaces one that has not answered within
# this many seconds (uvicorn's default: 5). A worker that is starting (loading the taxonomy and the whole match index
# takes seconds of CPU) on a busy machine can hold its GIL long enough to miss a short deadline, and its replacement
# starts just as slowly: a restart loop. A worker that is really hung still dies, only later.
WORKER_HEALTHCHECK_S = 60


def run_server(
    settings: Settings, host: str, port: int, log_level: str = "info", http: str = "auto", workers: int = 1
) -> None:
    """Serve ``settings`` in this process, or, with ``workers`` > 1, in that many worker processes. Workers
    build their settings from the environment (``MATCHER_*``), so then ``settings`` must be the environment's."""
    import uvicorn

    common = {"host": host, "port": port, "log_level": log_level, "access_log": False, "http": http}
    if workers == 1:
        from matcher.api import create_app

        uvicorn.run(create_app(settings), workers=1, **common)  # type: ignore[arg-type]
        return
    if settings is not get_settings():
        raise ValueError("workers: several worker processes read their settings from the environment (MATCHER_*)")
    database = make_url(settings.database_url)
    if database.get_backend_name() == "sqlite" and database.database in (None, "", ":memory:"):
        raise typer.BadParameter(
            "an in-memory SQLite database cannot be shared by worker processes", param_hint="--workers"
        )
    from matcher.storage import make_engine, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)  # once, here: N workers migrating a fresh database at the same moment would race
    engine.dispose()
    # web-page sessions must verify in whichever worker the next request reaches: one secret for all of them
    os.environ.setdefault("MATCHER_SESSION_SECRET", settings.session_secret.get_secret_value())
    uvicorn.run(
        "matcher.api:create_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        **common,  # type: ignore[arg-type]
    )


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when installed), httptools or h11")] = "auto",
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            envvar="MATCHER_WORKERS",
            help="worker processes, each with its own copy of the match index (about one per core)",
        ),
    ] = 1,
) -> None:
    """Serve the API (the database is migrated to the newest schema at startup)."""
    run_server(get_settings(), host, port, log_level, http, workers)
