"""`matcher demo --no-serve`, the README's first command: builds a fresh database and prints ranked candidates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import matcher.commands.demo as demo_module
from matcher.cli import app
from matcher.storage import CitizenRow, make_engine, session_factory

pytestmark = pytest.mark.slow


def test_demo_no_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_module, "DEMO_DIR", tmp_path / "demo")
    result = CliRunner().invoke(app, ["demo", "--citizens", "120", "--vacancies", "12", "--no-serve"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "consultant key: " in out and "employer key (employer " in out
    assert "top candidates for need 1" in out
    assert "1. citizen " in out or "no candidate passes the gates" in out  # depends on today's date
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'demo.sqlite'}")
    with session_factory(engine)() as session:
        assert session.query(CitizenRow).count() == 120
    engine.dispose()
