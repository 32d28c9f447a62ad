"""Bad input is a 4xx that names the field, never a 500, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.storage import _samples as s


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"max_commute_km": "far"}, ["body", "max_commute_km"]),
        ({"target_group": "pensioner"}, ["body", "target_group"]),
        ({"postcode": "42000"}, ["body", "postcode"]),
        ({"languages": [{"language": "da", "cefr": "Z9"}]}, ["body", "languages", 0, "cefr"]),
        ({"skills": [{"label": "zzqxv"}]}, ["body", "skills", 0, "label"]),
        ({"skills": [{"uri": "http://data.europa.eu/esco/skill/not-in-esco"}]}, ["body", "skills", 0, "uri"]),
        ({"name": "a\x00b"}, ["body", "name"]),
        ({"unknown_field": 1}, ["body", "unknown_field"]),
    ],
)
def test_citizen_field_errors_name_the_field(api: Api, patch: dict[str, Any], loc: list[Any]) -> None:
    r = api.call("consultant", "POST", "/v1/citizens", json={**s.citizen_json(1), **patch})
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]], r.json()
    assert api.call("consultant", "GET", "/v1/citizens").json()["total"] == 0


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"kind": "dream_job"}, ["body", "kind"]),
        ({"postcode": "0001"}, ["body", "postcode"]),  # well-formed, but no such postcode
        ({"kind": "hybrid_internship"}, ["body"]),  # hybrid details missing: a model-level rule
        ({"hours_per_week": -3}, ["body", "hours_per_week"]),
        ({"essential_skills": [], "title": "qqqq xxxx"}, ["body", "essential_skills"]),
    ],
)
def test_vacancy_field_errors_name_the_field(api: Api, patch: dict[str, Any], loc: list[Any]) -> None:
    need = {**s.vacancy_json(api.employer_a), **patch}
    r = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=need)
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]], r.json()


@pytest.mark.parametrize(
    "url",
    [
        "/v1/citizens/0",
        "/v1/citizens/abc",
        "/v1/citizens/99999999999999999999",
        "/v1/citizens?limit=1000",
        "/v1/citizens?offset=-1",
        "/v1/citizens?target_group=nobody",
        "/v1/vacancies/1/candidates?min_score=2",
        "/v1/vacancies/1/candidates?radius_km=-5",
    ],
)
def test_bad_parameters_are_422(api: Api, url: str) -> None:
    r = api.call("consultant", "GET", url)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] in ("path", "query")


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/v1/citizens/4242", "citizen_id"),
        ("PUT", "/v1/employers/4242", "employer_id"),
        ("GET", "/v1/vacancies/4242", "vacancy_id"),
        ("GET", "/v1/vacancies/4242/candidates", "vacancy_id"),
        ("DELETE", "/v1/vacancies/4242", "vacancy_id"),
        ("GET", "/v1/citizens/2147483647/export", "citizen_id"),
    ],
)
def test_unknown_ids_are_404_naming_the_field(api: Api, method: str, url: str, field: str) -> None:
    body = s.employer_json(1) if method == "PUT" else None
    r = api.call("consultant", method, url, json=body)
    assert r.status_code == 404, r.text
    ident = "4242" if "4242" in url else "2147483647"
    assert r.json()["field"] == field and ident in r.json()["detail"]


def test_oversize_body_is_413_by_length_and_by_stream(api: Api) -> None:
    limit = 2 * 1024 * 1024  # the api fixture's max_bulk_body_bytes (twice its max_body_bytes)
    big = b"[" + b" " * (limit + 10) + b"]"
    r = api.call("consultant", "POST", "/v1/citizens:bulk", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    r = api.call("consultant", "POST", "/v1/citizens:bulk", content=chunks(),
                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413
    single = {**s.citizen_json(1), "name": "x" * 400, "work_restrictions": ["y" * 400] * 50}
    r = api.call("consultant", "POST", "/v1/citizens", content=b" " * (limit // 2 + 1) + json.dumps(single).encode(),
                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413  # a single item has the smaller limit
    assert api.call("consultant", "GET", "/v1/citizens").json()["total"] == 0


def test_whitespace_text_for_the_normaliser_is_422(api: Api) -> None:
    r = api.call("consultant", "POST", "/v1/taxonomy/occupations/normalize", json={"text": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    r = api.call("consultant", "GET", "/v1/taxonomy/skills", params={"q": " "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "q"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32-be"])
def test_ad_hoc_search_refuses_nul_in_the_need_in_any_json_encoding(api: Api, encoding: str) -> None:
    """NUL is refused as everywhere else, whichever of JSON's encodings the body comes in; the text of a
    backslash and "u0000" (no NUL at all) is not."""
    url = "/v1/search/candidates"
    headers = {"Content-Type": "application/json"}
    need = s.vacancy_json(api.employer_a)
    for title, status in (("Lager\x00medarbejder", 422), ("Lager\\u0000medarbejder", 200)):
        raw = json.dumps({"need": {**need, "title": title}, "limit": 5}).encode(encoding)
        r = api.call("consultant", "POST", url, content=raw, headers=headers)
        assert r.status_code == status, (encoding, title, r.text)
        if status == 422:
            assert ["body", "need", "title"] in [d["loc"] for d in r.json()["detail"]], r.json()


@pytest.mark.parametrize(
    ("method", "url", "content_type"),
    [
        ("POST", "/v1/search/candidates", "application/json"),  # the direct route reads the body itself
        ("POST", "/v1/search/candidates", "application/json; charset=utf-8"),  # FastAPI's handler reads it
        ("POST", "/v1/citizens", "application/json"),
    ],
)
def test_a_client_that_disconnects_before_its_body_arrived_is_not_a_server_error(
    api: Api, method: str, url: str, content_type: str
) -> None:
    """A load tool stopping or a closed tab: the body never comes. Nothing is written, and the server logs no
    error (the autouse fixture fails the test if the catch-all 500 handler ran)."""
    sent: list[dict[str, Any]] = []
    headers = [
        (b"host", b"testserver"),
        (b"authorization", f"Bearer {api.keys['consultant']}".encode()),
        (b"content-type", content_type.encode()),
        (b"content-length", b"4000"),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": url, "raw_path": url.encode(), "root_path": "", "query_string": b"", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await api.client.app(scope, receive, send)

    assert api.client.portal is not None
    api.client.portal.call(call)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(status < 500 for status in statuses), statuses
    assert api.call("consultant", "GET", "/v1/citizens").json()["total"] == 0  # nothing was written
