"""Ranked lists through the API: consultants see identities, employers anonymised consenting candidates of their
own needs only; new data is searchable at once; feedback overrides apply at once."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.storage import _samples as s

SENSITIVE = {"citizen_id", "external_ref", "name", "work_restrictions", "target_group", "hours", "postcode"}


def _setup(api: Api, n: int = 6) -> tuple[list[int], int]:
    ids = [api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(i)).json()["id"] for i in range(n)]
    r = api.call("employer_a", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=s.vacancy_json(api.employer_a))
    assert r.status_code == 201, r.text
    return ids, r.json()["id"]


def test_consultant_candidates_are_ranked_and_explained(api: Api) -> None:
    ids, vid = _setup(api)
    r = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limit"] == 4 and body["offset"] == 0 and len(body["results"]) == 4
    first = body["results"][0]
    assert set(first) >= {"citizen_id", "external_ref", "rank", "score", "components", "gates", "explanation"}
    assert [x["rank"] for x in body["results"]] == [1, 2, 3, 4]
    scores = [x["score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert first["citizen_id"] in ids and first["external_ref"].startswith("case-")
    assert first["explanation"]["da"] and first["explanation"]["en"]
    nxt = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 4, "offset": 4}).json()
    assert [x["rank"] for x in nxt["results"]] == [5, 6]
    assert {x["citizen_id"] for x in nxt["results"]}.isdisjoint({x["citizen_id"] for x in body["results"]})


def test_employer_sees_only_anonymised_consenting_candidates(api: Api) -> None:
    _, vid = _setup(api)
    r = api.call("employer_a", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 50})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    assert len(results) == 3  # citizens 0, 2, 4 consented
    for item in results:
        assert SENSITIVE.isdisjoint(item) and item["candidate"].startswith("cand_")
    dump = r.text
    for i in range(6):
        assert f"case-{i}" not in dump and f"Person {i}" not in dump
    assert api.call("employer_b", "GET", f"/v1/vacancies/{vid}/candidates").status_code == 403
    r = api.call("employer_a", "GET", f"/v1/vacancies/{vid}/candidates", params={"target_group": "jobparat"})
    assert r.status_code == 403


def test_new_citizen_is_searchable_at_once_and_erase_removes_it(api: Api) -> None:
    _, vid = _setup(api, n=2)
    r = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(99))
    new_id = r.json()["id"]
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100}).json()
    assert new_id in [x["citizen_id"] for x in listed["results"]]
    api.call("consultant", "DELETE", f"/v1/citizens/{new_id}")
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100}).json()
    assert new_id not in [x["citizen_id"] for x in listed["results"]]


def test_matches_for_citizen_with_kind_filter(api: Api) -> None:
    ids, vid = _setup(api, n=1)
    hybrid = s.vacancy_json(
        api.employer_a, 2, kind="hybrid_internship", hours_per_week=20,
        hybrid={"paid_hours": 10, "internship_hours": 10, "weeks": 8},
    )  # fmt: skip
    hid = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=hybrid).json()["id"]
    r = api.call("consultant", "GET", f"/v1/citizens/{ids[0]}/matches")
    assert r.status_code == 200, r.text
    assert {m["need_id"] for m in r.json()["results"]} == {vid, hid}
    only = api.call("consultant", "GET", f"/v1/citizens/{ids[0]}/matches", params={"kind": "hybrid_internship"})
    assert [(m["need_id"], m["kind"], m["title"]) for m in only.json()["results"]] == [
        (hid, "hybrid_internship", "Lagermedarbejder 2")
    ]
    assert api.call("consultant", "GET", "/v1/citizens/12345/matches").status_code == 404


def test_ad_hoc_search_is_not_stored(api: Api) -> None:
    ids, _ = _setup(api, n=3)
    body = {"need": s.vacancy_json(api.employer_a, 5), "limit": 2}
    r = api.call("consultant", "POST", "/v1/search/candidates", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["results"]) == 2 and out["results"][0]["citizen_id"] in ids
    assert out["need"]["essential_skills"][0]["resolved"]["uri"].endswith("/forklift")
    listing = api.call("consultant", "GET", f"/v1/employers/{api.employer_a}/vacancies").json()
    assert listing["total"] == 1


def test_ad_hoc_search_names_an_unknown_employer(api: Api) -> None:
    _setup(api, n=2)
    known = {"need": s.vacancy_json(api.employer_a, 5), "limit": 2}
    unknown = {"need": {**s.vacancy_json(api.employer_a, 5), "employer_id": 987654}, "limit": 2}
    # before and after a search that found its employer (the service remembers stored employers)
    for body in (unknown, known, unknown):
        r = api.call("consultant", "POST", "/v1/search/candidates", json=body)
        if body is known:
            assert r.status_code == 200, r.text
        else:
            assert r.status_code == 404 and r.json()["field"] == "employer_id", r.text


def test_feedback_hide_and_pin_apply_at_once(api: Api) -> None:
    _, vid = _setup(api, n=4)
    before = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates").json()["results"]
    top, last = before[0]["citizen_id"], before[-1]["citizen_id"]
    r = api.call("consultant", "POST", f"/v1/matches/{top}/{vid}/feedback", json={"kind": "hidden", "reason": "x"})
    assert r.status_code == 201 and r.json()["kind"] == "hidden"
    api.call("consultant", "POST", f"/v1/matches/{last}/{vid}/feedback", json={"kind": "pinned"})
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates").json()["results"]
    after = [x["citizen_id"] for x in listed]
    assert top not in after and after[0] == last
    r = api.call("consultant", "POST", f"/v1/matches/{top}/999/feedback", json={"kind": "hired"})
    assert r.status_code == 404 and r.json()["field"] == "vacancy_id"
    r = api.call("consultant", "POST", f"/v1/matches/{top}/{vid}/feedback", json={"kind": "married"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]


def test_a_cached_list_shows_a_change_made_after_it_was_first_served(api: Api) -> None:
    ids, vid = _setup(api)
    url = f"/v1/vacancies/{vid}/candidates"
    before = api.call("consultant", "GET", url, params={"limit": 50}).json()
    assert api.call("consultant", "GET", url, params={"limit": 50}).json() == before  # served from the cache
    changed = {**s.citizen_json(0), "external_ref": "case-renamed"}
    assert api.call("consultant", "PUT", f"/v1/citizens/{ids[0]}", json=changed).status_code == 200
    after = api.call("consultant", "GET", url, params={"limit": 50}).json()
    refs = {x["citizen_id"]: x["external_ref"] for x in after["results"]}
    assert refs[ids[0]] == "case-renamed"


def test_ranked_bodies_are_exactly_the_response_models(api: Api) -> None:
    """The consultant lists are written straight from the matches (not through the models): each body must be
    what the documented model would serialise, field for field and in its order."""
    from matcher.api.schemas import CandidateList, CandidateResult, SearchResult

    _, vid = _setup(api)
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 4}).json()
    assert listed["results"] and CandidateList.model_validate(listed).model_dump(mode="json") == listed
    assert list(listed) == list(CandidateList.model_fields)
    body = {"need": s.vacancy_json(api.employer_a), "limit": 3, "offset": 1}
    r = api.call("consultant", "POST", "/v1/search/candidates", json=body)
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["results"] and SearchResult.model_validate(found).model_dump(mode="json") == found
    assert list(found) == list(SearchResult.model_fields)
    assert list(found["results"][0]) == list(CandidateResult.model_fields)
    assert [x["rank"] for x in found["results"]] == [2, 3, 4][: len(found["results"])]
