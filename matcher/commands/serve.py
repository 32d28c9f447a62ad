"""`matcher serve`: the v1 HTTP API under uvicorn.

One process on purpose: the live match index is in memory and kept in step with every write, so a second worker
would hold a second, diverging index. Threads (FastAPI's pool) give concurrency within the process.
"""

from __future__ import annotations

from typing import Annotated

import typer

from matcher.config import Settings, get_settings


def run_server(settings: Settings, host: str, port: int, log_level: str = "info", http: str = "auto") -> None:
    import uvicorn

    from matcher.api import create_app

    uvicorn.run(
        create_app(settings), host=host, port=port, log_level=log_level, workers=1, access_log=False, http=http
    )


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when installed), httptools or h11")] = "auto",
) -> None:
    """Serve the API (the database is migrated to the newest schema at startup)."""
    run_server(get_settings(), host, port, log_level, http)
