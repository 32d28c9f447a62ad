"""The Alembic migrations produce exactly the schema of the models, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from matcher.storage import Base, is_sqlite, make_engine, upgrade


# SQLite's reflection cannot read the audit log's expression index, so the comparison skips it there (with these
# warnings); tests/storage/test_audit_index.py checks that index by the plans of the lookups that use it
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_is_idempotent_and_creates_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)  # second time: a no-op, not an error
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_sqlite_uses_wal_and_foreign_keys(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'x.sqlite'}"
    assert is_sqlite(url)
    engine = make_engine(url)  # creates the missing folder
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
    assert (tmp_path / "sub").is_dir()
