"""Consultant and employer pages, served by the API's own app under ``/ui`` (see docs/web.md).

:func:`install` is the one call the app factory makes: the session middleware (signed cookie), the static files
and the routers of the pages and of their same-origin ``/ui/api`` proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from matcher.config import Settings
from matcher.web._pages import PageExitError
from matcher.web._pages import router as pages_router
from matcher.web._proxy import router as proxy_router

SESSION_COOKIE = "matcher_session"
SESSION_MAX_AGE = 8 * 3600
"""A working day: a consultant signs in once in the morning."""

__all__ = ["SESSION_COOKIE", "install"]


async def _page_exit(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageExitError)
    return exc.response


class UiSessions:
    """Starlette's session middleware for the pages (``/ui``) only: the API authenticates by bearer key, and
    decoding and re-signing a cookie on each of its requests would be pure overhead."""

    def __init__(self, app: ASGIApp, /, *args: Any, **options: Any) -> None:
        self.app = app
        self.with_session = SessionMiddleware(app, *args, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if path == "/ui" or path.startswith("/ui/"):
            await self.with_session(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the pages on ``app``."""
    app.add_middleware(
        UiSessions,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path="/ui",
        same_site="strict",
        https_only=settings.session_https_only,
    )
    app.mount("/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static")
    app.add_exception_handler(PageExitError, _page_exit)
    app.include_router(pages_router)
    app.include_router(proxy_router)
