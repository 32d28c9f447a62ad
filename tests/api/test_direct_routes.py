"""The direct handlers of the hottest routes (matcher/api/_direct.py): a well-formed request is answered exactly
as FastAPI's handler of the same declaration answers it (same status, same bytes, same audit entries), and every
other request is left to that handler, which produces the errors as for any other route."""

from __future__ import annotations

import json
from typing import Any

import pytest

from matcher.api._direct import DirectRoute
from matcher.api.routes.rankings import DirectCandidatesRoute
from matcher.api.routes.search import DirectSearchRoute
from matcher.storage import AuditRepository, make_engine, session_factory, transaction
from tests.api.conftest import Api
from tests.storage import _samples as s

URL = "/v1/search/candidates"
JSON = {"Content-Type": "application/json"}


def _audit_rows(api: Api) -> list[tuple[Any, ...]]:
    engine = make_engine(api.db_url)
    try:
        with transaction(session_factory(engine)) as session:
            return [(r.key_id, r.action, r.purpose, r.subject_id, r.details) for r in AuditRepository(session).since()]
    finally:
        engine.dispose()


def _both_ways(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    route: type[DirectRoute],
    role: str | None,
    method: str,
    url: str,
    **kw: Any,
) -> tuple[Any, Any, list[bool], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The response through the route as it is (and whether its direct handler answered) and through FastAPI's
    handler alone, with the audit entries each one added."""
    taken: list[bool] = []
    direct = route.direct

    async def spy(request: Any) -> Any:
        answer = await direct(request)
        taken.append(answer is not None)
        return answer

    async def never(request: Any) -> None:
        return None

    before = _audit_rows(api)
    monkeypatch.setattr(route, "direct", staticmethod(spy))
    first = api.call(role, method, url, **kw)
    middle = _audit_rows(api)
    monkeypatch.setattr(route, "direct", staticmethod(never))
    second = api.call(role, method, url, **kw)
    after = _audit_rows(api)
    monkeypatch.setattr(route, "direct", staticmethod(direct))
    return first, second, taken, middle[len(before) :], after[len(middle) :]


def _body(api: Api, **extra: Any) -> bytes:
    return json.dumps({"need": s.vacancy_json(api.employer_a, 5), "limit": 3, **extra}).encode()


@pytest.mark.parametrize(
    ("extra", "headers"),
    [
        ({}, JSON),
        ({"offset": 1, "min_score": 0.01, "radius_km": 400}, {**JSON, "X-Purpose": "placement of 12 May"}),
        ({"target_groups": ["jobparat", "aktivitetsparat"]}, {"Content-Type": "application/json; charset=utf-8"}),
        ({"limit": "2"}, {"Content-Type": "Application/JSON"}),  # lax numbers and media type, as FastAPI takes them
    ],
    ids=["plain", "filters-and-purpose", "charset", "lax"],
)
def test_a_well_formed_search_is_answered_directly_and_exactly_as_fastapi_answers_it(
    api: Api, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], headers: dict[str, str]
) -> None:
    [api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(i)) for i in range(5)]
    direct, standard, taken, audit_direct, audit_standard = _both_ways(
        api, monkeypatch, DirectSearchRoute, "consultant", "POST", URL, content=_body(api, **extra), headers=headers
    )
    assert taken == [True]
    assert direct.status_code == standard.status_code == 200, direct.text
    assert direct.content == standard.content
    assert direct.headers["content-type"] == standard.headers["content-type"]
    assert direct.json()["results"], "the search found no one: a weak comparison"
    assert audit_direct == audit_standard and len(audit_direct) == len(direct.json()["results"])
    assert {row[2] for row in audit_direct} == {headers.get("X-Purpose", "matching")}


def _malformed(api: Api) -> list[tuple[str, str | None, bytes, dict[str, str]]]:
    good = _body(api)
    return [
        ("no key", None, good, JSON),
        ("not bearer", "consultant", good, {**JSON, "Authorization": "Basic dXNlcjpwdw=="}),
        ("not JSON", "consultant", b'{"need": ', JSON),
        ("wrong type", "consultant", _body(api, limit="many"), JSON),
        ("out of range", "consultant", _body(api, limit=1000), JSON),
        ("unknown field", "consultant", _body(api, colour="blue"), JSON),
        ("unknown enum", "consultant", _body(api, target_groups=["retired"]), JSON),
        ("purpose too long", "consultant", good, {**JSON, "X-Purpose": "x" * 201}),
        ("text/plain", "consultant", good, {"Content-Type": "text/plain"}),
        ("no content type", "consultant", good, {}),
        ("UTF-16", "consultant", good.decode().encode("utf-16"), JSON),
        ("NUL in the need", "consultant", _body(api).replace(b'"title": "', b'"title": "a\\u0000'), JSON),
        ("unknown key", "consultant", good, {**JSON, "Authorization": "Bearer not-a-key"}),
        ("employer key", "employer_a", good, JSON),
        ("employer key, bad body", "employer_a", b"[]", JSON),
    ]


def test_every_other_request_gets_fastapi_s_own_answer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(1))
    for name, role, content, headers in _malformed(api):
        direct, standard, _, audit_direct, audit_standard = _both_ways(
            api, monkeypatch, DirectSearchRoute, role, "POST", URL, content=content, headers=headers
        )
        assert direct.status_code == standard.status_code, (name, direct.text, standard.text)
        assert direct.status_code in {401, 403, 415, 422} or (name == "UTF-16" and direct.status_code == 200), name
        assert direct.json() == standard.json(), name
        assert audit_direct == audit_standard, name


def _stored_need(api: Api) -> int:
    for i in range(6):
        api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(i))
    r = api.call("employer_a", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=s.vacancy_json(api.employer_a))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(
    ("role", "params", "headers"),
    [
        ("consultant", {}, {}),
        ("consultant", {"limit": "3", "offset": "1", "min_score": "0.000001"}, {"X-Purpose": "follow-up"}),
        ("consultant", [("target_group", "jobparat"), ("target_group", "aktivitetsparat"), ("radius_km", "400")], {}),
        ("employer_a", {"limit": "2"}, {}),  # anonymised, consenting citizens only
    ],
    ids=["plain", "paged-and-purpose", "groups", "employer"],
)
def test_a_well_formed_candidate_list_is_answered_directly_and_exactly_as_fastapi_answers_it(
    api: Api, monkeypatch: pytest.MonkeyPatch, role: str, params: Any, headers: dict[str, str]
) -> None:
    vid = _stored_need(api)
    url = f"/v1/vacancies/{vid}/candidates"
    for _ in range(2):  # ranked, then served from the list cache
        direct, standard, taken, audit_direct, audit_standard = _both_ways(
            api, monkeypatch, DirectCandidatesRoute, role, "GET", url, params=params, headers=headers
        )
        assert taken == [True]
        assert direct.status_code == standard.status_code == 200, direct.text
        assert direct.content == standard.content and direct.json()["results"]
        assert audit_direct == audit_standard and len(audit_direct) == len(direct.json()["results"])


def test_every_other_candidate_list_request_gets_fastapi_s_own_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = _stored_need(api)
    url = f"/v1/vacancies/{vid}/candidates"
    cases: list[tuple[str, str | None, str, Any, dict[str, str]]] = [
        ("no key", None, url, {}, {}),
        ("unknown key", "consultant", url, {}, {"Authorization": "Bearer nope"}),
        ("admin key", "admin", url, {}, {}),
        ("other employer", "employer_b", url, {}, {}),
        ("employer filters groups", "employer_a", url, {"target_group": "jobparat"}, {}),
        ("limit too large", "consultant", url, {"limit": "101"}, {}),
        ("limit not a number", "consultant", url, {"limit": "ten"}, {}),
        ("repeated limit", "consultant", url, [("limit", "2"), ("limit", "3")], {}),
        ("unknown parameter", "consultant", url, {"colour": "blue"}, {}),
        ("unknown group", "consultant", url, {"target_group": "retired"}, {}),
        ("bad id", "consultant", "/v1/vacancies/0/candidates", {}, {}),
        ("unknown id", "consultant", "/v1/vacancies/987654/candidates", {}, {}),
        ("purpose too long", "consultant", url, {}, {"X-Purpose": "y" * 201}),
    ]
    for name, role, target, params, headers in cases:
        direct, standard, _, audit_direct, audit_standard = _both_ways(
            api, monkeypatch, DirectCandidatesRoute, role, "GET", target, params=params, headers=headers
        )
        assert direct.status_code == standard.status_code, (name, direct.text, standard.text)
        assert direct.json() == standard.json(), name
        assert audit_direct == audit_standard, name
