"""`matcher rerank`: JSON outcome, reuse on a second call, exit code 3 while another run is live."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from matcher.batch import RUNNING
from matcher.batch._store import this_owner
from matcher.cli import app
from matcher.config import get_settings
from matcher.storage import RankingRunRow, transaction
from matcher.storage._tables import utcnow
from tests.batch._world import TODAY


@pytest.fixture
def cli_world(world, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    settings, sessions = world(n_citizens=50, n_needs=12, top_k=5)
    monkeypatch.setenv("MATCHER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MATCHER_TOP_K", "5")
    get_settings.cache_clear()
    yield sessions
    get_settings.cache_clear()


def rerank(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["rerank", "--as-of", TODAY.isoformat(), "--json", *args])
    return result.exit_code, result.stdout


def test_rerank_prints_the_outcome_and_reuses_an_identical_run(cli_world) -> None:  # type: ignore[no-untyped-def]
    code, out = rerank("--block-size", "20")
    assert code == 0, out
    first = json.loads(out)
    assert first["status"] == "completed" and first["how"] == "new" and first["blocks_total"] == 3
    assert first["report"]["n_citizens"] == 50
    code, out = rerank()
    assert code == 0 and json.loads(out)["how"] == "reused" and json.loads(out)["run_id"] == first["run_id"]


def test_rerank_exits_3_while_another_run_is_live(cli_world) -> None:  # type: ignore[no-untyped-def]
    with transaction(cli_world) as session:
        session.add(RankingRunRow(status=RUNNING, owner=this_owner(), heartbeat_at=utcnow(), created_at=utcnow()))
    code, _ = rerank()
    assert code == 3
