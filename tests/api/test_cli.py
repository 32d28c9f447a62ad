"""The service's CLI: keys, import/export (all or nothing), audit export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

import matcher.taxonomy
from matcher.cli import app
from matcher.config import get_settings
from matcher.storage import ApiKeyRow, CitizenRow, hash_key, make_engine, session_factory
from matcher.taxonomy import Normalizer
from tests.storage import _samples as s

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, normalizer: Normalizer) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("MATCHER_DATABASE_URL", url)
    monkeypatch.setattr(matcher.taxonomy, "get_normalizer", lambda: normalizer)  # the toy taxonomy
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _rows(url: str, model: type) -> list:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        rows = list(session.query(model).order_by(model.id))
    engine.dispose()
    return rows


def test_keys_create_list_revoke(db: str, tmp_path: Path) -> None:
    employers = tmp_path / "employers.jsonl"
    employers.write_text(json.dumps(s.employer_json(1)) + "\n")
    assert runner.invoke(app, ["import", str(employers), "--kind", "employers"]).exit_code == 0
    r = runner.invoke(app, ["keys", "create", "--role", "employer", "--employer-id", "1"])
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    stored = _rows(db, ApiKeyRow)
    assert [k.key_hash for k in stored] == [hash_key(key)] and key not in r.output.splitlines()[0]
    r = runner.invoke(app, ["keys", "create", "--role", "employer"])
    assert r.exit_code == 1 and "employer_id" in r.output
    r = runner.invoke(app, ["keys", "create", "--role", "root"])
    assert r.exit_code == 1 and "role" in r.output
    assert "employer" in runner.invoke(app, ["keys", "list"]).output
    assert runner.invoke(app, ["keys", "revoke", str(stored[0].id)]).exit_code == 0
    assert _rows(db, ApiKeyRow)[0].revoked_at is not None
    assert runner.invoke(app, ["keys", "revoke", "999"]).exit_code == 1


def test_import_export_round_trip_and_all_or_nothing(db: str, tmp_path: Path) -> None:
    good = tmp_path / "citizens.jsonl"
    good.write_text("".join(json.dumps(s.citizen_json(i)) + "\n" for i in range(4)))
    r = runner.invoke(app, ["import", str(good), "--kind", "citizens"])
    assert r.exit_code == 0, r.output
    stored = _rows(db, CitizenRow)
    assert [c.external_ref for c in stored] == [f"case-{i}" for i in range(4)]
    assert stored[0].profile["skills"][0]["resolved"]["uri"].endswith("/forklift")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(s.citizen_json(10)) + "\n" + json.dumps(s.citizen_json(11, postcode="x")) + "\n")
    r = runner.invoke(app, ["import", str(bad), "--kind", "citizens"])
    assert r.exit_code == 1 and "item 1" in r.output and "postcode" in r.output
    assert len(_rows(db, CitizenRow)) == 4  # nothing of the bad file

    for suffix in (".jsonl", ".csv", ".json"):
        out = tmp_path / f"export{suffix}"
        assert runner.invoke(app, ["export", "--kind", "citizens", "--out", str(out)]).exit_code == 0
        other = tmp_path / f"other{suffix}.sqlite"
        runner_env = {"MATCHER_DATABASE_URL": f"sqlite:///{other}"}
        get_settings.cache_clear()
        r = runner.invoke(app, ["import", str(out), "--kind", "citizens"], env=runner_env)
        get_settings.cache_clear()
        assert r.exit_code == 0, r.output
        again = _rows(f"sqlite:///{other}", CitizenRow)
        assert [c.profile for c in again] == [c.profile for c in stored], suffix


def test_audit_export_jsonl(db: str, tmp_path: Path) -> None:
    good = tmp_path / "citizens.jsonl"
    good.write_text(json.dumps(s.citizen_json(1)) + "\n")
    runner.invoke(app, ["import", str(good), "--kind", "citizens"])
    out = tmp_path / "audit.jsonl"
    r = runner.invoke(app, ["audit", "export", "--since", "2000-01-01", "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["action"], x["purpose"]) for x in lines] == [
        ("citizen.create", "data import"),
        ("audit.export", "audit export"),
    ]
    assert runner.invoke(app, ["audit", "export", "--since", "yesterday"]).exit_code == 1


def test_serve_with_workers_gives_a_starting_worker_time_to_answer_the_supervisor(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's supervisor replaces a worker that misses its health check (5 s by default); a worker loading the
    index on a busy machine can miss that, and its replacement too: the serve command must allow it longer."""
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kw: calls.append((args, kw)))
    r = runner.invoke(app, ["serve", "--workers", "2", "--port", "8123"])
    assert r.exit_code == 0, r.output
    [(args, kw)] = calls
    assert args == ("matcher.api:create_app",) and kw["factory"] is True and kw["workers"] == 2
    assert kw["timeout_worker_healthcheck"] >= 30 and kw["port"] == 8123
    engine = make_engine(db)
    try:
        assert "citizens" in inspect(engine).get_table_names()  # migrated once, up front, before any worker
    finally:
        engine.dispose()


def test_serve_with_workers_refuses_an_in_memory_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setenv("MATCHER_DATABASE_URL", "sqlite://")
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kw: pytest.fail("served an in-memory database"))
    get_settings.cache_clear()
    try:
        r = runner.invoke(app, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2 and "--workers" in r.output
