"""Liveness: the process answers and the database is reachable. No key needed."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from matcher.api.deps import StateDep
from matcher.api.schemas import Health
from matcher.storage import ping

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is unreachable"}},
)
def healthz(state: StateDep) -> Health | JSONResponse:
    try:
        ping(state.db)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unreachable: %s", exc)
        body = Health(status="unavailable", database="unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")
