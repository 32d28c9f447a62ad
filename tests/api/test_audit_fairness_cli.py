"""`matcher audit fairness` on live data: `matcher demo` stores the synthetic protected attributes, the audit reads
the latest nightly run and prints the tables in every format; missing attributes become 'unknown'; an empty
database is one clear error line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import matcher.commands.demo as demo_module
from matcher.cli import app
from matcher.storage import AuditAttributesRepository, AuditRepository, CitizenRow, make_engine, session_factory
from tests.batch._world import fill_database

pytestmark = pytest.mark.slow

DIMENSIONS = {"target_group", "qualification", "gender", "age_band", "origin"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("fairness-demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_module, "DEMO_DIR", folder)
        result = CliRunner().invoke(app, ["demo", "--citizens", "150", "--vacancies", "20", "--no-serve"])
    assert result.exit_code == 0, result.output
    return f"sqlite:///{folder / 'demo.sqlite'}"


def _audit(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["audit", "fairness", "--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_demo_stores_the_synthetic_protected_attributes(demo_db: str) -> None:
    engine = make_engine(demo_db)
    with session_factory(engine)() as session:
        rows = AuditAttributesRepository(session).all()
        assert len(rows) == session.query(CitizenRow).count() == 150
    engine.dispose()
    assert {g for _, g, _, _ in rows} == {"female", "male"}
    assert all(1900 < (b or 0) < 2015 and o and len(o) == 2 for _, _, b, o in rows)


def test_json_tables_from_the_latest_run(demo_db: str) -> None:
    code, out, err = _audit(demo_db, "--format", "json", "--k", "10")
    assert code == 0, err
    report = json.loads(out)
    meta = report["meta"]
    assert meta["k"] == 10 and meta["n_citizens"] == 150 and meta["n_needs"] == 20
    assert meta["source"].startswith("ranking run ") and meta["scorer"] == "rule"
    assert set(report) == {"meta", "exposure", "score_at_equal_skill", "proposals", "score_by_stratum"}
    exposure = pd.DataFrame(report["exposure"])
    assert set(exposure["dimension"]) == DIMENSIONS
    assert (exposure.groupby("dimension")["citizens"].sum() == 150).all()
    assert set(exposure.loc[exposure["dimension"] == "gender", "group"]) == {"female", "male"}
    assert exposure["slots"].sum() > 0
    engine = make_engine(demo_db)
    with session_factory(engine)() as session:
        actions = [(a.action, a.purpose) for a in AuditRepository(session).since()]
    engine.dispose()
    assert ("audit.fairness", "fairness audit") in actions


def test_csv_and_table_formats(demo_db: str) -> None:
    code, out, err = _audit(demo_db, "--format", "csv")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert set(table["table"]) == {"exposure", "score_at_equal_skill", "proposals", "score_by_stratum"}
    assert {"exposure_ratio", "difference_at_equal_skill", "proposal_share", "stratum"} <= set(table.columns)
    code, out, err = _audit(demo_db)
    assert code == 0, err
    for title in ("(a) exposure", "(b) mean score", "(c) citizens with a proposal", "slot_ratio", "jobparat"):
        assert title in out


def test_k_beyond_the_run_ranks_now(demo_db: str) -> None:
    code, out, err = _audit(demo_db, "--format", "json", "--k", "60")
    assert code == 0, err
    assert "kept only the top 50; ranking now for --k 60" in err
    assert json.loads(out)["meta"]["source"] == "engine"


def test_without_attributes_the_groups_are_unknown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.sqlite'}"
    fill_database(url, 60, 10).kw["bind"].dispose()
    code, out, err = _audit(url, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["meta"]["source"] == "engine"  # no nightly run yet
    groups = pd.DataFrame(report["proposals"])
    for dim in ("gender", "age_band", "origin"):
        part = groups[groups["dimension"] == dim]
        assert part["group"].tolist() == ["unknown"] and part["citizens"].tolist() == [60]
    assert len(groups[groups["dimension"] == "qualification"]) >= 2


def test_clear_errors(tmp_path: Path) -> None:
    code, _, err = _audit(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert code == 1 and "no citizens: nothing to audit" in err and "Traceback" not in err
    code, _, err = _audit(f"sqlite:///{tmp_path / 'empty.sqlite'}", "--format", "xml")
    assert code == 1 and "--format: must be one of table, csv, json" in err
