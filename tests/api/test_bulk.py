"""Bulk uploads: JSON array or JSONL, ids in order, all or nothing with every bad item listed."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from matcher.storage import CitizenRow, NeedRow, make_engine
from tests.api.conftest import Api
from tests.storage import _samples as s


def _count(api: Api, table: type) -> int:
    engine = make_engine(api.db_url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


def test_bulk_json_returns_ids_in_order_and_is_searchable(api: Api) -> None:
    items = [s.citizen_json(i) for i in range(50)]
    r = api.call("consultant", "POST", "/v1/citizens:bulk", json=items)
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    assert r.json()["count"] == 50 and len(set(ids)) == 50
    for i in (0, 17, 49):
        assert api.call("consultant", "GET", f"/v1/citizens/{ids[i]}").json()["external_ref"] == f"case-{i}"
    need = s.vacancy_json(api.employer_a)
    vid = api.call("consultant", "POST", "/v1/vacancies:bulk", json=[need]).json()["ids"][0]
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100}).json()
    assert {x["citizen_id"] for x in listed["results"]} <= set(ids) and len(listed["results"]) > 0


def test_bulk_jsonl(api: Api) -> None:
    body = "\n".join(json.dumps(s.citizen_json(i)) for i in range(5)) + "\n\n"
    r = api.call(
        "consultant", "POST", "/v1/citizens:bulk", content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 5


def test_bulk_is_all_or_nothing_and_lists_every_bad_item(api: Api) -> None:
    api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(3))
    items = [s.citizen_json(i) for i in range(10)]
    items[2]["target_group"] = "pensioner"  # unknown enum
    items[3] = s.citizen_json(3)  # already stored
    items[5]["skills"] = [{"label": "zzqxv"}]  # no taxonomy match
    items[6]["postcode"] = "42"  # malformed postcode
    items[8] = s.citizen_json(7)  # repeats item 7's external_ref
    r = api.call("consultant", "POST", "/v1/citizens:bulk", json=items)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    by_index = {e["index"]: e for e in errors}
    assert set(by_index) == {2, 3, 5, 6, 8}
    assert by_index[2]["field"] == "target_group"
    assert by_index[3]["field"] == "external_ref"
    assert by_index[5]["field"] == "skills[0].label"
    assert by_index[6]["field"] == "postcode"
    assert by_index[8]["field"] == "external_ref" and "item 7" in by_index[8]["reason"]
    assert _count(api, CitizenRow) == 1  # only the one stored before


def test_bulk_vacancies_check_employers(api: Api) -> None:
    items = [s.vacancy_json(api.employer_a, 1), s.vacancy_json(424242, 2), s.vacancy_json(api.employer_b, 3)]
    items[2]["postcode"] = "0001"  # four digits, but no such postcode
    r = api.call("consultant", "POST", "/v1/vacancies:bulk", json=items)
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["errors"]] == [(1, "employer_id"), (2, "postcode")]
    assert _count(api, NeedRow) == 0


def test_bulk_rejects_bad_bodies(api: Api) -> None:
    r = api.call("consultant", "POST", "/v1/citizens:bulk", content=b'{"a": 1}',
                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"].startswith("body: must be a JSON array")
    r = api.call("consultant", "POST", "/v1/citizens:bulk", content=b"{not json",
                 headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert r.status_code == 422 and "line 1" in r.json()["detail"] and r.json()["errors"] == []
    r = api.call("consultant", "POST", "/v1/citizens:bulk", content=b"<xml/>", headers={"Content-Type": "text/xml"})
    assert r.status_code == 415


def test_bulk_finds_nul_characters(api: Api) -> None:
    items = [s.citizen_json(0), s.citizen_json(1, name="bad\x00name")]
    r = api.call("consultant", "POST", "/v1/citizens:bulk", json=items)
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["errors"]] == [(1, "name")]
