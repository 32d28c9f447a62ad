"""API test fixtures: a fresh database per test (SQLite; PostgreSQL too when MATCHER_TEST_POSTGRES_URL is set),
the real Normalizer and MatchEngine on a toy taxonomy, keys for every role, and a guard that fails any test in
which the app reached its catch-all 500 handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from matcher.api import Services, create_app
from matcher.config import ScoringPolicy, Settings
from matcher.ranking import MatchEngine
from matcher.storage import EmployerRepository, KeyRepository, make_engine, session_factory, transaction
from matcher.taxonomy import Normalizer, Postcodes, Taxonomy
from tests.api._toy import TODAY, make_taxonomy
from tests.storage import _samples as s
from tests.storage._db import db_url, pg_schema_url

__all__ = ["db_url", "pg_schema_url"]


@pytest.fixture(scope="session")
def toy_taxonomy() -> Taxonomy:
    return make_taxonomy()


@pytest.fixture(scope="session")
def normalizer(toy_taxonomy: Taxonomy, postcodes: Postcodes) -> Normalizer:
    return Normalizer(toy_taxonomy, cache_dir=None, postcodes=postcodes)


@pytest.fixture
def services(toy_taxonomy: Taxonomy, postcodes: Postcodes, normalizer: Normalizer) -> Services:
    def engine() -> MatchEngine:
        return MatchEngine(toy_taxonomy, postcodes, ScoringPolicy(), memory_budget_mb=64, today=TODAY)

    return Services(normalizer=normalizer, engine_factory=engine)


@dataclass
class Api:
    """A running app with one key per role; ``as_(role)`` gives a client sending that role's key."""

    client: TestClient
    keys: dict[str, str]
    employer_a: int
    employer_b: int
    db_url: str

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}

    def call(self, role: str | None, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers(role), **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)


def seed_keys(url: str) -> tuple[dict[str, str], int, int]:
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        employers = EmployerRepository(session)
        a = employers.add(s.employer(1)).id
        b = employers.add(s.employer(2)).id
        keys = KeyRepository(session)
        out = {
            "admin": keys.create("admin")[1],
            "consultant": keys.create("consultant")[1],
            "employer_a": keys.create("employer", employer_id=a)[1],
            "employer_b": keys.create("employer", employer_id=b)[1],
        }
    engine.dispose()
    return out, a, b


@pytest.fixture
def api(db_url: str, services: Services) -> Iterator[Api]:
    keys, a, b = seed_keys(db_url)
    settings = Settings(database_url=db_url, max_body_bytes=1024 * 1024, max_bulk_body_bytes=2 * 1024 * 1024)
    app = create_app(settings, services=services)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, keys=keys, employer_a=a, employer_b=b, db_url=db_url)


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every API test fails if the catch-all 500 handler ran."""
    caplog.set_level(logging.ERROR, logger="matcher.api.errors")
    yield
    crashes = [r for r in caplog.records if r.name == "matcher.api.errors" and r.levelno >= logging.ERROR]
    assert not crashes, f"the app hit its 500 handler: {[r.getMessage() for r in crashes]}"
