"""Who may open which page, without a browser: no session → the sign-in page; the wrong role → a 403 page; a
need that does not exist or belongs to another employer → 404 / 403; the right role → the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.web.conftest import Live


@contextmanager
def _signed_in(live: Live, role: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        form = client.get("/ui/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        answer = client.post("/ui/login", data={"key": live.keys[role], "csrf": token.group(1)})
        assert answer.status_code == 303
        yield client


def test_no_session_is_sent_to_sign_in(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        for path in ("/ui/consultant/needs", "/ui/consultant/plan", "/ui/employer/needs", "/ui/employer/needs/1"):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/ui/login?msg=login_expired"


def test_wrong_role_gets_a_403_page(live: Live) -> None:
    with _signed_in(live, "employer") as employer:
        answer = employer.get("/ui/consultant/needs")
        assert answer.status_code == 403
        assert "text/html" in answer.headers["content-type"]
        assert employer.get("/ui/employer/needs").status_code == 200
    with _signed_in(live, "consultant") as consultant:
        assert consultant.get("/ui/employer/needs/new").status_code == 403
        assert consultant.get("/ui/consultant/needs").status_code == 200


def _foreign_need(live: Live) -> int:
    """A need of another employer than the signed-in employer's (read through the API as a consultant)."""
    auth = {"Authorization": f"Bearer {live.keys['consultant']}"}
    with httpx.Client(base_url=live.url, headers=auth, timeout=30) as api:
        for employer in api.get("/v1/employers", params={"limit": 100}).json()["items"]:
            if employer["id"] == live.employer_id:
                continue
            needs = api.get(f"/v1/employers/{employer['id']}/vacancies").json()["items"]
            if needs:
                return int(needs[0]["id"])
    raise AssertionError("the seeded world has needs of other employers")


def test_unknown_and_foreign_needs(live: Live) -> None:
    with _signed_in(live, "consultant") as consultant:
        assert consultant.get("/ui/consultant/needs/999999").status_code == 404
    foreign = _foreign_need(live)
    with _signed_in(live, "employer") as employer:
        assert employer.get("/ui/employer/needs/999999/edit").status_code == 404
        assert employer.get(f"/ui/employer/needs/{foreign}").status_code == 403
        assert employer.get(f"/ui/employer/needs/{foreign}/edit").status_code == 403
