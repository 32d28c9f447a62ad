"""Exception → HTTP mapping. Core and storage raise plain, typed errors; only this layer knows status codes.

Every client mistake is a 4xx that names the field: 422 in pydantic's ``{"detail": [{"loc", "msg", "type"}]}``
shape (so one error schema covers validation and taxonomy errors), 404 / 409 with ``{"detail", "field"}``.
The catch-all 500 handler is a last resort that logs; the tests assert it is never reached.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from matcher.storage import AuditUnavailableError, ConflictError, NotFoundError
from matcher.taxonomy import TaxonomyInputError

log = logging.getLogger(__name__)

_PATH_PART = re.compile(r"[^.\[\]]+")


def field_path(field: str) -> list[str | int]:
    """'skills[3].uri' or 'skills.3.uri' → ['skills', 3, 'uri']."""
    return [int(p) if p.isdigit() else p for p in _PATH_PART.findall(field)]


def validation_body(loc_prefix: Sequence[str | int], field: str, reason: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": [*loc_prefix, *field_path(field)], "msg": reason, "type": kind}]}


class BodyFieldError(Exception):
    """A semantic error in a request body found after pydantic validation (e.g. a NUL character, a mismatching
    employer_id). Rendered as a 422 in pydantic's shape."""

    def __init__(self, field: str, reason: str, loc_prefix: Sequence[str | int] = ("body",)) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.loc_prefix = tuple(loc_prefix)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers an undecodable body (e.g. invalid UTF-8) with a bare 400; it is bad input in the body
        # like any other, so it gets the same 422 shape.
        if exc.status_code == 400:
            return JSONResponse(validation_body((), "body", str(exc.detail), "body_decode"), status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(TaxonomyInputError)
    async def _taxonomy(request: Request, exc: TaxonomyInputError) -> JSONResponse:
        return JSONResponse(validation_body(("body",), exc.field, exc.reason, "taxonomy_input"), status_code=422)

    @app.exception_handler(BodyFieldError)
    async def _body_field(request: Request, exc: BodyFieldError) -> JSONResponse:
        return JSONResponse(validation_body(exc.loc_prefix, exc.field, exc.reason, "value_error"), status_code=422)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=404)

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=409)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Only reachable through a race between two writers (the repositories check first).
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": "the write conflicts with stored data; retry", "field": None}, 409)

    @app.exception_handler(AuditUnavailableError)
    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down, locked past the busy timeout, or the audit record of a read could not be
        # committed: nothing was answered or half-written, the client may retry.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "the database is unavailable; retry later", "field": None},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client closed its connection before its request body had arrived (a load tool stopping, a
        # browser tab closed, a hostile client): nothing was done, and nobody is left to read an answer. Not a
        # server fault, so no error and no traceback in the log, which such clients could otherwise fill.
        log.info("client disconnected before its request body arrived: %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged", "field": None}, status_code=500)
