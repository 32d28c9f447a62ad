"""A write route must not hold SQLite's write lock while it waits for the index's write mutex: the writer holding
the mutex may need that lock, and the two would wait on each other until the 30 s busy timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from matcher.api import Services, create_app
from matcher.api.deps import AppState
from matcher.config import Settings
from matcher.storage import open_database
from tests.api.conftest import Api, seed_keys
from tests.storage import _samples as s


@pytest.fixture
def api(tmp_path: Path, services: Services) -> Iterator[Api]:
    """SQLite only: the database-wide write lock is SQLite's."""
    url = f"sqlite:///{tmp_path / 'locks.sqlite'}"
    open_database(url)[0].dispose()
    keys, a, b = seed_keys(url)
    with TestClient(create_app(Settings(database_url=url), services=services)) as client:
        yield Api(client=client, keys=keys, employer_a=a, employer_b=b, db_url=url)


@pytest.mark.parametrize("route", ["create", "replace", "delete"])
def test_need_writes_wait_for_the_mutex_without_the_database_lock(api: Api, route: str) -> None:
    vid = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies",
                   json=s.vacancy_json(api.employer_a)).json()["id"]  # fmt: skip
    state: AppState = api.client.app.state.matcher  # type: ignore[attr-defined]
    calls = {
        "create": ("POST", f"/v1/employers/{api.employer_a}/vacancies", s.vacancy_json(api.employer_a, 1)),
        "replace": ("PUT", f"/v1/vacancies/{vid}", s.vacancy_json(api.employer_a, 2)),
        "delete": ("DELETE", f"/v1/vacancies/{vid}", None),
    }
    method, url, body = calls[route]
    answers: list[int] = []
    with state.index.write_mutex:  # another writer of this process is between its commit and its index update
        worker = threading.Thread(
            target=lambda: answers.append(api.call("consultant", method, url, json=body).status_code)
        )
        worker.start()
        time.sleep(0.5)  # the route has done its checks and waits for the mutex
        database = Path(api.db_url.removeprefix("sqlite:///"))
        other = sqlite3.connect(database, timeout=2)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" after 2 s if the route still holds the lock
            other.rollback()
        finally:
            other.close()
    worker.join(timeout=30)
    assert answers and answers[0] in (200, 201, 204)
