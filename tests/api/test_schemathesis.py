"""Property-based fuzzing of the API against its own OpenAPI schema (schemathesis), bounded so it runs in CI:
no server errors, responses that match the documented schemas, status codes and content types.

The app object is built at import (building it touches nothing: the database and the index come up in its
lifespan, which the module fixture runs), because schemathesis derives the tests from the app's schema."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from matcher.api import Services, create_app
from matcher.config import ScoringPolicy, Settings, get_settings
from matcher.ranking import MatchEngine
from matcher.storage import make_engine, upgrade
from matcher.taxonomy import Normalizer, load_postcodes
from tests.api._toy import TODAY, make_taxonomy
from tests.api.conftest import seed_keys
from tests.storage import _samples as s

_DIR = Path(tempfile.mkdtemp(prefix="matcher-fuzz-"))
_URL = f"sqlite:///{_DIR / 'fuzz.sqlite'}"
_TAXONOMY = make_taxonomy()
_POSTCODES = load_postcodes(get_settings().data_dir)
_SERVICES = Services(
    normalizer=Normalizer(_TAXONOMY, cache_dir=None, postcodes=_POSTCODES),
    engine_factory=lambda: MatchEngine(_TAXONOMY, _POSTCODES, ScoringPolicy(), memory_budget_mb=64, today=TODAY),
)
APP = create_app(Settings(database_url=_URL, max_body_bytes=256 * 1024), services=_SERVICES)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Bounded for CI: the schema's own examples plus a few generated cases per operation. The coverage phase (every
# boundary of every field) is thorough but takes minutes on two cores; run it by hand with
# `schemathesis run` against `matcher serve` when the schema changes a lot.
schema.config.phases.coverage.enabled = False
KEYS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    engine = make_engine(_URL)
    upgrade(engine)
    engine.dispose()
    keys, a, _ = seed_keys(_URL)
    KEYS.update(keys)
    with TestClient(APP) as client:  # runs the lifespan: database and live index ready
        auth = {"Authorization": f"Bearer {keys['consultant']}"}
        client.post("/v1/citizens:bulk", json=[s.citizen_json(i) for i in range(5)], headers=auth)
        client.post("/v1/vacancies:bulk", json=[s.vacancy_json(a, i) for i in range(3)], headers=auth)
        yield
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEYS['consultant']}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )
