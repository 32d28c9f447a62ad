"""Several service processes on one database (``matcher serve --workers N``, or a writer outside the service such as
``matcher import``): a write acknowledged by one is seen by the next request to any other, through the index
change feed. Two apps in this process stand for two workers: each has its own index, follower and connections,
which is all a worker process has of its own."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from matcher.api import Services, create_app
from matcher.api.deps import AppState
from matcher.config import Settings
from matcher.storage import (
    ChangeFeedRepository,
    CitizenRepository,
    make_engine,
    open_database,
    session_factory,
    transaction,
)
from tests.api.conftest import seed_keys
from tests.api.test_durability import _server
from tests.storage import _samples as s


@dataclass
class Worker:
    client: TestClient
    headers: dict[str, str]

    @property
    def state(self) -> AppState:
        state: AppState = self.client.app.state.matcher  # type: ignore[attr-defined]
        return state

    def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, url, headers=self.headers, **kw)

    def candidate_ids(self, vid: int) -> list[int]:
        r = self.call("GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100})
        assert r.status_code == 200, r.text
        return [x["citizen_id"] for x in r.json()["results"]]


@pytest.fixture
def workers(db_url: str, services: Services) -> Iterator[tuple[Worker, Worker, int]]:
    keys, employer, _ = seed_keys(db_url)
    settings = Settings(database_url=db_url)
    headers = {"Authorization": f"Bearer {keys['consultant']}"}
    with (
        TestClient(create_app(settings, services=services), raise_server_exceptions=False) as a,
        TestClient(create_app(settings, services=services), raise_server_exceptions=False) as b,
    ):
        yield Worker(a, headers), Worker(b, headers), employer


def _need(worker: Worker, employer: int) -> int:
    r = worker.call("POST", f"/v1/employers/{employer}/vacancies", json=s.vacancy_json(employer))
    assert r.status_code == 201, r.text
    vid: int = r.json()["id"]
    return vid


def test_citizen_writes_reach_the_other_worker_at_once(workers: tuple[Worker, Worker, int]) -> None:
    a, b, employer = workers
    vid = _need(a, employer)
    assert b.candidate_ids(vid) == []  # b learnt of the need written through a
    cid = a.call("POST", "/v1/citizens", json=s.citizen_json(1)).json()["id"]
    assert b.candidate_ids(vid) == [cid]
    search = {"need": s.vacancy_json(employer), "limit": 10}
    assert [x["citizen_id"] for x in b.call("POST", "/v1/search/candidates", json=search).json()["results"]] == [cid]

    r = a.call("PUT", f"/v1/citizens/{cid}", json=s.citizen_json(1, external_ref="case-renamed"))
    assert r.status_code == 200, r.text
    r = b.call("GET", f"/v1/vacancies/{vid}/candidates")
    assert [x["external_ref"] for x in r.json()["results"]] == ["case-renamed"]

    assert a.call("DELETE", f"/v1/citizens/{cid}").status_code == 204
    assert b.candidate_ids(vid) == []
    assert b.state.index.citizen(cid) is None
    assert b.call("GET", f"/v1/citizens/{cid}/matches").status_code == 404


def test_need_writes_and_overrides_reach_the_other_worker(workers: tuple[Worker, Worker, int]) -> None:
    a, b, employer = workers
    ids = [a.call("POST", "/v1/citizens", json=s.citizen_json(i)).json()["id"] for i in range(3)]
    vid = _need(b, employer)  # written through b, read through a
    ranked = a.candidate_ids(vid)
    assert sorted(ranked) == sorted(ids)
    r = b.call("POST", f"/v1/matches/{ranked[0]}/{vid}/feedback", json={"kind": "hidden"})
    assert r.status_code == 201, r.text
    assert a.candidate_ids(vid) == ranked[1:]
    r = b.call("POST", f"/v1/matches/{ranked[2]}/{vid}/feedback", json={"kind": "pinned"})
    assert r.status_code == 201, r.text
    assert a.candidate_ids(vid)[0] == ranked[2]
    assert b.call("DELETE", f"/v1/vacancies/{vid}").status_code == 204
    assert a.call("GET", f"/v1/vacancies/{vid}/candidates").status_code == 404


def test_bulk_upload_reaches_the_other_worker(workers: tuple[Worker, Worker, int]) -> None:
    a, b, employer = workers
    vid = _need(a, employer)
    items = [s.citizen_json(i) for i in range(40)]
    r = a.call("POST", "/v1/citizens:bulk", json=items)
    assert r.status_code == 201, r.text
    assert sorted(b.candidate_ids(vid)) == sorted(r.json()["ids"])
    assert b.state.index.sizes == a.state.index.sizes == (40, 1)


def test_a_worker_does_not_reload_its_own_writes(workers: tuple[Worker, Worker, int]) -> None:
    a, b, employer = workers
    _need(a, employer)
    a.call("POST", "/v1/citizens", json=s.citizen_json(1))
    a.call("POST", "/v1/citizens:bulk", json=[s.citizen_json(i) for i in range(2, 6)])
    # the writer's own seqs moved its position: nothing left to catch up on, so nothing is loaded twice
    assert not a.state.follower.behind()
    assert b.state.follower.behind()
    b.call("GET", "/v1/citizens/1/matches")
    assert not b.state.follower.behind()


def test_writes_from_outside_the_service_are_followed(workers: tuple[Worker, Worker, int], db_url: str) -> None:
    """What `matcher import` does: repositories on the database, no service involved."""
    a, _, employer = workers
    vid = _need(a, employer)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        cid = CitizenRepository(session).add(s.citizen(7)).id
    engine.dispose()
    assert a.candidate_ids(vid) == [cid]


def test_an_idle_worker_drops_an_erased_citizen_without_a_request(workers: tuple[Worker, Worker, int]) -> None:
    a, b, _ = workers
    cid = a.call("POST", "/v1/citizens", json=s.citizen_json(1)).json()["id"]
    b.call("GET", f"/v1/citizens/{cid}/matches")
    assert b.state.index.citizen(cid) is not None
    assert a.call("DELETE", f"/v1/citizens/{cid}").status_code == 204
    deadline = time.monotonic() + 10
    while b.state.index.citizen(cid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b.state.index.citizen(cid) is None  # the background follower, within about a second


def test_a_worker_behind_the_pruned_feed_reloads_whole(workers: tuple[Worker, Worker, int], db_url: str) -> None:
    a, b, employer = workers
    vid = _need(a, employer)
    b.candidate_ids(vid)
    b.state.follower.stop()  # b's background thread sleeps through what follows; its requests still follow
    ids = [a.call("POST", "/v1/citizens", json=s.citizen_json(i)).json()["id"] for i in range(4)]
    a.call("DELETE", f"/v1/citizens/{ids[0]}")
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        feed = ChangeFeedRepository(session)
        newest = feed.latest()
        assert feed.prune(dt.timedelta(0)) > 0
        assert feed.latest() == newest  # the newest row stays: the feed's position survives pruning
        assert feed.pruned_through() == newest - 1
    engine.dispose()
    assert sorted(b.candidate_ids(vid)) == sorted(ids[1:])
    assert b.state.index.citizen(ids[0]) is None


@pytest.mark.slow
def test_matcher_serve_with_two_worker_processes(tmp_path: Path) -> None:
    """The real thing: ``matcher serve --workers 2``, every request on a new connection (the kernel hands each to
    either worker); every read sees the write acknowledged just before it."""
    url = f"sqlite:///{tmp_path / 'workers.sqlite'}"
    open_database(url)[0].dispose()
    keys, employer, _ = seed_keys(url)
    auth = {"Authorization": f"Bearer {keys['consultant']}"}
    log = tmp_path / "server.log"

    def call(base: str, method: str, path: str, **kw: Any) -> httpx.Response:
        with httpx.Client(base_url=base, headers=auth, timeout=30) as fresh:  # a new connection per request
            return fresh.request(method, path, **kw)

    with _server(url, log, "--workers", "2") as (_, base):
        # /healthz answered by one worker; the requests below must be able to reach either
        deadline = time.monotonic() + 180
        while log.read_text().count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        need = {"title": "Lagermedarbejder", "postcode": "4200"}  # occupation normalised from the title
        r = call(base, "POST", f"/v1/employers/{employer}/vacancies", json=need)
        assert r.status_code == 201, r.text
        vid = r.json()["id"]
        written: list[int] = []
        for i in range(12):
            body = {"external_ref": f"w-{i}", "target_group": "jobparat", "postcode": "4200"}
            r = call(base, "POST", "/v1/citizens", json=body)
            assert r.status_code == 201, r.text
            written.append(r.json()["id"])
            r = call(base, "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100})
            assert r.status_code == 200, r.text
            assert sorted(x["citizen_id"] for x in r.json()["results"]) == written
            assert call(base, "GET", f"/v1/citizens/{written[-1]}/matches").status_code == 200
        for cid in written[:6]:
            assert call(base, "DELETE", f"/v1/citizens/{cid}").status_code == 204
            assert call(base, "GET", f"/v1/citizens/{cid}/matches").status_code == 404
    served = log.read_text()
    workers = set(re.findall(r"Started server process \[(\d+)\]", served))
    assert len(workers) == 2 and "died" not in served, served[-2000:]  # no worker replaced by the supervisor


def test_a_worker_ahead_of_a_restored_feed_reloads_whole(workers: tuple[Worker, Worker, int], db_url: str) -> None:
    """A database restored from an older backup: its feed ends below the worker's position."""
    a, b, employer = workers
    vid = _need(a, employer)
    ids = [a.call("POST", "/v1/citizens", json=s.citizen_json(i)).json()["id"] for i in range(4)]
    assert sorted(b.candidate_ids(vid)) == sorted(ids)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:  # "restore": the last two citizens never happened
        for cid in ids[2:]:
            CitizenRepository(session).erase(cid)
        session.execute(text("DELETE FROM index_changes WHERE entity_id IN (:x, :y)"), {"x": ids[2], "y": ids[3]})
    engine.dispose()
    assert sorted(b.candidate_ids(vid)) == sorted(ids[:2])
