"""The authorization matrix: every route × every role (no key, admin, consultant, the owning employer, another
employer), one parametrised test. Allowed calls must succeed (2xx); others get 401 without a key and 403 with a
key of the wrong role or of another employer."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matcher.api import Services, create_app
from matcher.config import ScoringPolicy, Settings
from matcher.ranking import MatchEngine
from matcher.storage import KeyRepository, make_engine, session_factory, transaction, upgrade
from matcher.taxonomy import Normalizer, Postcodes, Taxonomy
from tests.api._toy import TODAY
from tests.api.conftest import Api, seed_keys
from tests.storage import _samples as s

ROLES = [None, "admin", "consultant", "employer_own", "employer_other"]
STAFF = {"consultant"}
OWNER = {"consultant", "employer_own"}
ANY_KEY = {"admin", "consultant", "employer_own", "employer_other"}
EVERYONE = {None, *ANY_KEY}

_counter = itertools.count(1000)


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # formatted with: cid (a citizen), vid (employer A's need), eid (employer A)
    allowed: set[str | None]
    body: Callable[[dict[str, int]], Any] | None = None
    content_type: str | None = None


def _need(ctx: dict[str, int]) -> dict[str, Any]:
    need = s.vacancy_json(ctx["eid"], next(_counter))
    del need["employer_id"]
    return need


ROUTES = [
    Route("employers.create", "POST", "/v1/employers", STAFF, lambda c: s.employer_json(next(_counter))),
    Route("employers.list", "GET", "/v1/employers", STAFF),
    Route("employers.get", "GET", "/v1/employers/{eid}", OWNER),
    Route("employers.put", "PUT", "/v1/employers/{eid}", STAFF, lambda c: s.employer_json(1)),
    Route("citizens.create", "POST", "/v1/citizens", STAFF, lambda c: s.citizen_json(next(_counter))),
    Route("citizens.list", "GET", "/v1/citizens", STAFF),
    Route("citizens.get", "GET", "/v1/citizens/{cid}", STAFF),
    Route("citizens.put", "PUT", "/v1/citizens/{cid}", STAFF, lambda c: s.citizen_json(c["cid"] + 500)),
    Route("citizens.delete", "DELETE", "/v1/citizens/{cid}", STAFF),
    Route("citizens.export", "GET", "/v1/citizens/{cid}/export", STAFF),
    Route("citizens.audit_attributes.get", "GET", "/v1/citizens/{cid}/audit-attributes", {"consultant"}),
    Route(
        "citizens.audit_attributes.put", "PUT", "/v1/citizens/{cid}/audit-attributes", {"consultant"},
        lambda c: {"gender": "female", "birth_year": 1980, "origin_country": "DK"},
    ),
    Route("citizens.bulk", "POST", "/v1/citizens:bulk", STAFF, lambda c: [s.citizen_json(next(_counter))]),
    Route("citizens.matches", "GET", "/v1/citizens/{cid}/matches", STAFF),
    Route("vacancies.create", "POST", "/v1/employers/{eid}/vacancies", OWNER, _need),
    Route("vacancies.list", "GET", "/v1/employers/{eid}/vacancies", OWNER),
    Route("vacancies.get", "GET", "/v1/vacancies/{vid}", OWNER),
    Route("vacancies.put", "PUT", "/v1/vacancies/{vid}", OWNER, _need),
    Route("vacancies.delete", "DELETE", "/v1/vacancies/{vid}", OWNER),
    Route("vacancies.bulk", "POST", "/v1/vacancies:bulk", STAFF, lambda c: [s.vacancy_json(c["eid"])]),
    Route("vacancies.candidates", "GET", "/v1/vacancies/{vid}/candidates", OWNER),
    Route(
        "search.candidates", "POST", "/v1/search/candidates", STAFF, lambda c: {"need": s.vacancy_json(c["eid"])}
    ),
    Route("feedback.create", "POST", "/v1/matches/{cid}/{vid}/feedback", STAFF, lambda c: {"kind": "contacted"}),
    Route("taxonomy.normalize", "POST", "/v1/taxonomy/occupations/normalize", ANY_KEY, lambda c: {"text": "kok"}),
    Route("taxonomy.extract", "POST", "/v1/taxonomy/skills/extract", ANY_KEY, lambda c: {"text": "omsorg"}),
    Route("taxonomy.skills", "GET", "/v1/taxonomy/skills?q=rengøring", ANY_KEY),
    Route("taxonomy.occupations", "GET", "/v1/taxonomy/occupations?q=kok", ANY_KEY),
    Route("health", "GET", "/healthz", EVERYONE),
    Route(
        "citizens.bulk.jsonl", "POST", "/v1/citizens:bulk", STAFF,
        lambda c: s.citizen_json(next(_counter)), content_type="application/x-ndjson",
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def matrix_api(tmp_path_factory: pytest.TempPathFactory, matrix_services: Services) -> Iterator[Api]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('matrix')) / 'm.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    keys, a, b = seed_keys(url)
    keys["employer_own"], keys["employer_other"] = keys["employer_a"], keys["employer_b"]
    app = create_app(Settings(database_url=url), services=matrix_services)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield Api(client=c, keys=keys, employer_a=a, employer_b=b, db_url=url)


@pytest.fixture(scope="module")
def matrix_services(toy_taxonomy: Taxonomy, postcodes: Postcodes, normalizer: Normalizer) -> Services:
    return Services(
        normalizer=normalizer,
        engine_factory=lambda: MatchEngine(toy_taxonomy, postcodes, ScoringPolicy(), memory_budget_mb=64, today=TODAY),
    )


def _fresh(api: Api) -> dict[str, int]:
    """A fresh citizen and a fresh need of employer A, so destructive routes have something of their own."""
    cid = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(next(_counter))).json()["id"]
    r = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=_need({"eid": api.employer_a}))
    return {"cid": cid, "vid": r.json()["id"], "eid": api.employer_a}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no_key")
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_authorization_matrix(matrix_api: Api, route: Route, role: str | None) -> None:
    ctx = _fresh(matrix_api)
    kwargs: dict[str, Any] = {}
    if route.body is not None:
        body = route.body(ctx)
        if route.content_type:
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"] = {"Content-Type": route.content_type}
        else:
            kwargs["json"] = body
    r = matrix_api.call(role, route.method, route.path.format(**ctx), **kwargs)
    if role in route.allowed:
        assert 200 <= r.status_code < 300, f"{role} on {route.name}: {r.status_code} {r.text}"
    elif role is None:
        assert r.status_code == 401, r.text
        assert r.headers.get("www-authenticate") == "Bearer"
    else:
        assert r.status_code == 403, f"{role} on {route.name}: {r.status_code} {r.text}"


def test_bad_and_revoked_keys_are_401(matrix_api: Api) -> None:
    assert matrix_api.client.get("/v1/citizens", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert matrix_api.client.get("/v1/citizens", headers={"Authorization": "Basic abc"}).status_code == 401
    engine = make_engine(matrix_api.db_url)
    with transaction(session_factory(engine)) as session:
        repo = KeyRepository(session)
        row, key = repo.create("consultant")
        repo.revoke(row.id)
    engine.dispose()
    assert matrix_api.client.get("/v1/citizens", headers={"Authorization": f"Bearer {key}"}).status_code == 401
