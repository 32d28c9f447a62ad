"""Protected attributes held for fairness audits: set and read by consultants only (like every other citizen
read), audited, validated with the field named, exported and erased with the citizen, absent from every other
view, and refused inside a citizen profile with a pointer to their own route."""

from __future__ import annotations

from typing import Any

import pytest

from matcher.storage import AuditRepository, CitizenAuditAttributesRow, make_engine, session_factory
from tests.api.conftest import Api
from tests.storage import _samples as s

ATTRS = {"gender": "female", "birth_year": 1977, "origin_country": "SY"}


def _citizen(api: Api, i: int = 0, **over: Any) -> int:
    r = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(i, **over))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _url(cid: int) -> str:
    return f"/v1/citizens/{cid}/audit-attributes"


def _stored(api: Api, cid: int) -> CitizenAuditAttributesRow | None:
    engine = make_engine(api.db_url)
    try:
        with session_factory(engine)() as session:
            return session.get(CitizenAuditAttributesRow, cid)
    finally:
        engine.dispose()


@pytest.mark.parametrize("role", ["consultant"])
def test_put_and_get_round_trip_and_are_audited(api: Api, role: str) -> None:
    cid = _citizen(api)
    r = api.call(role, "GET", _url(cid))
    assert r.status_code == 200, r.text
    assert r.json() == {"citizen_id": cid, "gender": None, "birth_year": None, "origin_country": None,
                        "updated_at": None}  # fmt: skip
    r = api.call(role, "PUT", _url(cid), json={**ATTRS, "origin_country": "sy"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ATTRS} == ATTRS  # country code normalised to upper case
    r = api.call(role, "GET", _url(cid), headers={"X-Purpose": "annual equality report"})
    assert {k: r.json()[k] for k in ATTRS} == ATTRS and r.json()["updated_at"]
    row = _stored(api, cid)
    assert row is not None and (row.gender, row.birth_year, row.origin_country) == ("female", 1977, "SY")
    engine = make_engine(api.db_url)
    with session_factory(engine)() as session:
        entries = [(a.action, a.purpose) for a in AuditRepository(session).about("citizen", cid)]
    engine.dispose()
    assert ("citizen.audit_attributes.read", "fairness audit") in entries
    assert ("citizen.audit_attributes.update", "fairness audit") in entries
    assert ("citizen.audit_attributes.read", "annual equality report") in entries


def test_all_null_deletes_the_row(api: Api) -> None:
    cid = _citizen(api)
    api.call("consultant", "PUT", _url(cid), json=ATTRS)
    assert _stored(api, cid) is not None
    r = api.call("consultant", "PUT", _url(cid), json={"gender": None, "birth_year": None, "origin_country": None})
    assert r.status_code == 200 and r.json()["updated_at"] is None
    assert _stored(api, cid) is None


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"gender": "f"}, "gender", "female"),
        ({"birth_year": 1850}, "birth_year", "between 1900"),
        ({"birth_year": 2030}, "birth_year", "between 1900"),
        ({"birth_year": "nineteen"}, "birth_year", "integer"),
        ({"origin_country": "XX"}, "origin_country", "ISO 3166-1 alpha-2"),
        ({"religion": "none"}, "religion", "Extra inputs"),
    ],
)
def test_bad_values_are_refused_naming_the_field(api: Api, body: dict[str, Any], field: str, reason: str) -> None:
    cid = _citizen(api)
    r = api.call("consultant", "PUT", _url(cid), json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", field]
    assert reason in detail[0]["msg"]
    assert _stored(api, cid) is None


def test_employers_are_refused_and_unknown_citizens_are_404(api: Api) -> None:
    cid = _citizen(api)
    api.call("consultant", "PUT", _url(cid), json=ATTRS)
    for method in ("GET", "PUT"):
        r = api.call("employer_a", method, _url(cid), json=ATTRS if method == "PUT" else None)
        assert r.status_code == 403, r.text
        assert "1977" not in r.text
    r = api.call("consultant", "GET", _url(999_999))
    assert r.status_code == 404 and r.json()["field"] == "citizen_id"
    assert api.call("consultant", "PUT", _url(999_999), json=ATTRS).status_code == 404


def test_export_holds_them_and_erase_removes_them(api: Api) -> None:
    cid = _citizen(api)
    bare = api.call("consultant", "GET", f"/v1/citizens/{cid}/export").json()
    assert bare["audit_attributes"] is None
    api.call("consultant", "PUT", _url(cid), json=ATTRS)
    export = api.call("consultant", "GET", f"/v1/citizens/{cid}/export").json()
    assert {k: export["audit_attributes"][k] for k in ATTRS} == ATTRS
    assert api.call("consultant", "DELETE", f"/v1/citizens/{cid}").status_code == 204
    assert _stored(api, cid) is None  # the foreign key cascades in the database itself
    assert api.call("consultant", "GET", _url(cid)).status_code == 404


def test_never_in_profiles_lists_or_candidate_results(api: Api) -> None:
    ids = [_citizen(api, i) for i in range(4)]
    for cid in ids:
        assert api.call("consultant", "PUT", _url(cid), json=ATTRS).status_code == 200
    r = api.call("employer_a", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=s.vacancy_json(api.employer_a))
    vid = r.json()["id"]
    views = [
        ("employer_a", f"/v1/vacancies/{vid}/candidates"),
        ("consultant", f"/v1/vacancies/{vid}/candidates"),
        ("consultant", "/v1/citizens"),
        ("consultant", f"/v1/citizens/{ids[0]}"),
        ("consultant", f"/v1/citizens/{ids[0]}/matches"),
    ]
    for role, url in views:
        r = api.call(role, "GET", url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.get("results") or body.get("items") or body.get("id")  # a real, non-empty view
        for needle in ("gender", "birth_year", "origin_country", "1977", '"SY"'):
            assert needle not in r.text, f"{needle} in {role} {url}"


@pytest.mark.parametrize("field", ["gender", "birth_year", "origin_country"])
def test_a_profile_with_a_protected_attribute_is_refused_with_a_pointer(api: Api, field: str) -> None:
    body = {**s.citizen_json(1), field: ATTRS[field]}
    for method, url in (("POST", "/v1/citizens"), ("PUT", f"/v1/citizens/{_citizen(api, 2)}")):
        r = api.call("consultant", method, url, json=body)
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", field]
        assert field in error["msg"] and "/v1/citizens/{citizen_id}/audit-attributes" in error["msg"]
    r = api.call("consultant", "POST", "/v1/citizens:bulk", json=[s.citizen_json(3), body])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["index"] == 1 and r.json()["errors"][0]["field"] == field
