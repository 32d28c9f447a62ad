"""Create, read, replace and delete through the API; normalisation on write; errors that name the field."""

from __future__ import annotations

from tests.api._toy import occupation_uri, skill_uri
from tests.api.conftest import Api
from tests.storage import _samples as s


def test_health_reports_database(api: Api) -> None:
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_citizen_lifecycle_with_normalisation(api: Api) -> None:
    r = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(1))
    assert r.status_code == 201, r.text
    body = r.json()
    cid = body["id"]
    truck = body["skills"][0]
    assert truck["label"] == "truckkørsel"
    assert truck["resolved"]["uri"] == skill_uri("forklift") and 0 < truck["resolved"]["confidence"] <= 1
    assert body["occupations"][0]["resolved"]["uri"] == occupation_uri("warehouse")
    assert body["skills"][1]["uri"] == s.SKILL_URI

    got = api.call("consultant", "GET", f"/v1/citizens/{cid}").json()
    assert got["external_ref"] == "case-1" and got["skills"][0]["resolved"]["uri"] == skill_uri("forklift")

    changed = s.citizen_json(1, postcode="4100", max_commute_km=50)
    r = api.call("consultant", "PUT", f"/v1/citizens/{cid}", json=changed)
    assert r.status_code == 200 and r.json()["postcode"] == "4100" and r.json()["max_commute_km"] == 50

    page = api.call("consultant", "GET", "/v1/citizens", params={"limit": 1, "offset": 0}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == cid

    assert api.call("consultant", "DELETE", f"/v1/citizens/{cid}").status_code == 204
    r = api.call("consultant", "GET", f"/v1/citizens/{cid}")
    assert r.status_code == 404 and r.json()["field"] == "citizen_id" and str(cid) in r.json()["detail"]


def test_duplicate_external_ref_is_409(api: Api) -> None:
    assert api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(1)).status_code == 201
    r = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(1))
    assert r.status_code == 409 and r.json()["field"] == "external_ref"


def test_employer_and_vacancy_lifecycle(api: Api) -> None:
    r = api.call("consultant", "POST", "/v1/employers", json=s.employer_json(7))
    assert r.status_code == 201
    eid = r.json()["id"]
    r = api.call("consultant", "PUT", f"/v1/employers/{eid}", json={**s.employer_json(7), "industry": "byg"})
    assert r.json()["industry"] == "byg"
    assert api.call("consultant", "GET", "/v1/employers", params={"limit": 100}).json()["total"] == 3

    need = s.vacancy_json(eid)
    del need["employer_id"]
    r = api.call("consultant", "POST", f"/v1/employers/{eid}/vacancies", json=need)
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["employer_id"] == eid
    assert v["essential_skills"][0]["resolved"]["uri"] == skill_uri("forklift")
    assert v["occupation_uri"] == occupation_uri("warehouse") and v["occupation_resolved"]["confidence"] > 0

    r = api.call("consultant", "PUT", f"/v1/vacancies/{v['id']}", json={**need, "positions": 3})
    assert r.status_code == 200 and r.json()["positions"] == 3
    listing = api.call("consultant", "GET", f"/v1/employers/{eid}/vacancies").json()
    assert [x["id"] for x in listing["items"]] == [v["id"]]
    assert api.call("consultant", "DELETE", f"/v1/vacancies/{v['id']}").status_code == 204
    assert api.call("consultant", "GET", f"/v1/vacancies/{v['id']}").status_code == 404


def test_vacancy_cannot_move_to_another_employer(api: Api) -> None:
    need = s.vacancy_json(api.employer_b)
    r = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=need)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "employer_id"]


def test_unknown_employer_for_a_vacancy_is_404(api: Api) -> None:
    r = api.call("consultant", "POST", "/v1/employers/999/vacancies", json=s.vacancy_json(999))
    assert r.status_code == 404 and r.json()["field"] == "employer_id"


def test_health_is_503_when_the_database_is_unreachable(api: Api) -> None:
    from sqlalchemy import create_engine

    state = api.client.app.state.matcher  # type: ignore[attr-defined]
    healthy = state.db
    state.db = create_engine("sqlite:////nonexistent-folder/matcher.sqlite")
    try:
        r = api.client.get("/healthz")
    finally:
        state.db.dispose()
        state.db = healthy
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "database": "unreachable"}
