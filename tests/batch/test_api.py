"""The run routes: admin only, start → progress → completed, latest, plan with explanations, reuse."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matcher.api import Services, create_app
from matcher.domain import Citizen, Vacancy
from matcher.ranking import MatchEngine
from matcher.storage import KeyRepository, transaction
from tests.batch._world import TODAY


class NoNormalizer:
    """The run routes never normalise; anything else calling this in these tests is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"normalizer.{name} called in a ranking-run test")

    def resolve_citizen(self, citizen: Citizen) -> Citizen:
        return citizen

    def resolve_vacancy(self, vacancy: Vacancy) -> Vacancy:
        return vacancy


@pytest.fixture
def api(world, taxonomy, postcodes):  # type: ignore[no-untyped-def]
    settings, sessions = world(n_citizens=80, n_needs=20, top_k=5)
    with transaction(sessions) as session:
        keys = KeyRepository(session)
        admin, consultant = keys.create("admin")[1], keys.create("consultant")[1]
    services = Services(
        normalizer=NoNormalizer(),  # type: ignore[arg-type]
        engine_factory=lambda: MatchEngine(taxonomy, postcodes, settings.scoring, today=TODAY),
    )
    with TestClient(create_app(settings, services=services)) as client:
        yield client, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {consultant}"}


def test_admin_starts_a_run_follows_it_and_reads_the_plan(api) -> None:  # type: ignore[no-untyped-def]
    client, admin, consultant = api
    assert client.post("/v1/rankings/runs", headers=consultant).status_code == 403
    assert client.post("/v1/rankings/runs").status_code == 401
    assert client.get("/v1/rankings/runs/latest", headers=admin).status_code == 404
    started = client.post("/v1/rankings/runs", headers=admin)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 120
    while True:
        run = client.get(f"/v1/rankings/runs/{run_id}", headers=admin).json()
        if run["status"] != "running" or time.monotonic() > deadline:
            break
        assert 0 <= run["progress"] <= 1
        time.sleep(0.2)
    assert run["status"] == "completed", run
    assert run["progress"] == 1 and run["blocks_done"] == run["blocks_total"]
    assert run["report"]["optimal"]["positions_filled"] >= run["report"]["greedy"]["positions_filled"] - 5
    assert client.get("/v1/rankings/runs/latest", headers=admin).json()["id"] == run_id
    assert client.get(f"/v1/rankings/runs/{run_id}", headers=consultant).status_code == 403
    plan = client.get(f"/v1/rankings/runs/{run_id}/plan?limit=5", headers=admin)
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["total"] == run["report"]["optimal"]["positions_filled"]
    assert 0 < len(body["assignments"]) <= 5
    first = body["assignments"][0]
    assert first["rank"] == 1 and first["explanation"]["en"]
    values = [a["plan_value"] for a in body["assignments"]]
    assert values == sorted(values, reverse=True)
    # nothing changed: asking again reuses the completed run
    again = client.post("/v1/rankings/runs", headers=admin).json()
    assert again == {"run_id": run_id, "how": "reused"}
    assert client.get("/v1/rankings/runs/999", headers=admin).status_code == 404
    assert client.get("/v1/rankings/runs/999/plan", headers=admin).status_code == 404
