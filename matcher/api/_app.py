"""The FastAPI application: state built at startup (database, migrations, live index), routers, error handlers."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from matcher.api._bodies import BodySizeLimit
from matcher.api._follow import IndexFollower
from matcher.api._index import LiveIndex
from matcher.api._services import Services, default_services
from matcher.api.deps import AppState
from matcher.api.errors import install_error_handlers
from matcher.api.routes import (
    audit_attributes,
    citizens,
    employers,
    feedback,
    health,
    models,
    ranking_runs,
    rankings,
    search,
    taxonomy,
    vacancies,
)
from matcher.config import Settings, get_settings
from matcher.ranking import scorer_label
from matcher.storage import (
    AuditWriter,
    ChangeFeed,
    MetaRepository,
    WalCheckpointer,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from matcher.web import install as install_web

log = logging.getLogger(__name__)

DESCRIPTION = """
Matching of job-centre citizens to employers' needs (vacancies, flexjobs, IGU, wage-subsidy and internship places,
hybrid internships), scored, explained in Danish and English, and ranked both ways.

**Auth**: `Authorization: Bearer <key>`; keys come from `matcher keys create --role admin|consultant|employer`.
Consultants reach everything except administration; employer keys reach their own company's needs and see
anonymised candidates of consenting citizens only. Every read of personal data is audited; send `X-Purpose` to
say why. See docs/api.md.
"""

TAGS = [
    {"name": "employers", "description": "companies that post needs"},
    {"name": "citizens", "description": "citizen profiles (personal data: audited, erasable)"},
    {"name": "vacancies", "description": "employers' needs of every kind"},
    {"name": "matching", "description": "ranked candidates for a need, ranked needs for a citizen, feedback"},
    {"name": "taxonomy", "description": "ESCO normalisation and skill extraction"},
    {"name": "health", "description": "liveness"},
]


def build_state(settings: Settings, services: Services | None = None) -> AppState:
    """Open and migrate the database, then fill the match engine from it."""
    started = time.perf_counter()
    db = make_engine(settings.database_url, service=True)
    upgrade(db)
    sessions = session_factory(db)
    services = services or default_services(settings)
    index = LiveIndex(services.engine_factory())
    with transaction(sessions) as session:
        salt = MetaRepository(session).salt()
    follower = IndexFollower(index, sessions, ChangeFeed(db), services.engine_factory)
    follower.load()
    n_citizens, n_needs = index.sizes
    log.info(
        "index ready: %d citizens, %d needs in %.1f s; ranking with %s",
        n_citizens, n_needs, time.perf_counter() - started, scorer_label(index.engine.scorer),
    )
    return AppState(
        settings=settings, db=db, sessions=sessions, index=index, normalizer=services.normalizer, salt=salt,
        audit_writer=AuditWriter(db, salt), checkpointer=WalCheckpointer(db), follower=follower,
    )  # fmt: skip


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """The v1 service. ``services`` replaces the real normaliser and match engine (tests use small doubles)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, services)
        app.state.matcher = state
        state.checkpointer.start()
        state.follower.start()
        scheduler = ranking_runs.nightly_scheduler(state)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            state.follower.stop()
            state.audit_writer.close()
            state.checkpointer.stop()
            state.db.dispose()

    app = FastAPI(
        title="matcher",
        version="1.0.0",
        summary="Matching engine for Danish job centres",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, max_bulk_bytes=settings.max_bulk_body_bytes
    )
    install_error_handlers(app)
    # the hot routes first: a request is matched against the routers in this order (no two share a path, so the
    # order changes nothing else; the documentation groups routes by tag)
    for module in (
        search, rankings, employers, citizens, audit_attributes, vacancies, feedback, models, taxonomy, health,
        ranking_runs,
    ):
        app.include_router(module.router)
    install_web(app, settings)
    return app
