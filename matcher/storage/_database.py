"""Database engine, sessions and migrations.

SQLite is the default (one file, nothing to install); PostgreSQL is chosen by URL
(``postgresql+psycopg://user@host/db``). The schema is owned by Alembic: :func:`upgrade` brings any database to
the newest revision and is called automatically when the service or a CLI command opens the database, so a
fresh checkout needs no separate migration step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, connect_args: dict[str, Any] | None = None) -> Engine:
    """An engine for ``url``. For SQLite: create the folder, WAL journal, foreign keys on, and BEGIN IMMEDIATE.

    Why BEGIN IMMEDIATE: SQLite's default deferred transactions take the write lock only at the first write; a
    transaction that read first and then writes fails at once with "database is locked" when another writer
    committed in between, without waiting for the busy timeout. Taking the lock at BEGIN makes concurrent
    requests queue (up to the 30 s busy timeout) instead of failing. Reads are short here (the engine serves
    searches from memory), so serialising transactions costs little.

    WAL with ``synchronous=NORMAL`` makes a committed transaction survive a crash of the process (kill -9); only a
    power loss can drop the last commits before a checkpoint.
    """
    parsed = make_url(url)
    args = dict(connect_args or {})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    args.setdefault("check_same_thread", False)
    args.setdefault("timeout", 30)
    engine = create_engine(url, connect_args=args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (the API returns rows it just wrote)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs against ``engine`` (no alembic.ini needed: the scripts ship in the package)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default). Safe to call on every start."""
    log.info("database: alembic upgrade %s", revision)
    command.upgrade(alembic_config(engine), revision)


def ping(engine: Engine) -> None:
    """Raise if the database cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for ``url``, migrated to the newest schema (what every entry point needs)."""
    engine = make_engine(url)
    upgrade(engine)
    return engine, session_factory(engine)
