"""Database engine, sessions and migrations.

SQLite is the default (one file, nothing to install); PostgreSQL is chosen by URL
(``postgresql+psycopg://user@host/db``). The schema is owned by Alembic: :func:`upgrade` brings any database to
the newest revision and is called automatically when the service or a CLI command opens the database, so a
fresh checkout needs no separate migration step.
"""

from __future__ import annotations

import logging
import threading
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


SERVICE_CACHE_KIB = 65_536
"""The service's page cache per connection (SQLite's default is 2 MB): the audit log's subject index takes
inserts all over its pages, which should stay in memory rather than be re-read for every batch."""


def make_engine(
    url: str, *, connect_args: dict[str, Any] | None = None, service: bool = False
) -> Engine:
    """An engine for ``url``. For SQLite: create the folder, WAL journal, foreign keys on, and BEGIN IMMEDIATE.

    Why BEGIN IMMEDIATE: SQLite's default deferred transactions take the write lock only at the first write; a
    transaction that read first and then writes fails at once with "database is locked" when another writer
    committed in between, without waiting for the busy timeout. Taking the lock at BEGIN makes concurrent
    requests queue (up to the 30 s busy timeout) instead of failing. Reads are short here (the engine serves
    searches from memory), so serialising transactions costs little.

    WAL with ``synchronous=NORMAL`` makes a committed transaction survive a crash of the process (kill -9); only a
    power loss can drop the last commits before a checkpoint.

    ``service=True`` (the long-running API process): a larger page cache per connection, see
    :data:`SERVICE_CACHE_KIB`; the service also runs :class:`WalCheckpointer`.
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
        if service:
            cursor.execute(f"PRAGMA cache_size=-{SERVICE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class WalCheckpointer:
    """PASSIVE checkpoints of a SQLite database's WAL from a thread of their own, every ``interval_s``.

    SQLite copies the WAL back into the database file inside whichever commit pushes the WAL past 1,000 pages,
    so that request waits for the copy and an fsync: measured on the audit log, p99 commit 25 ms, max 170 ms,
    against 0.7 ms without. Copying most pages here first, where nobody waits (PASSIVE never blocks readers or
    writers), leaves those commits little to do; they still finish each checkpoint, which lets the WAL start
    over, so its size stays bounded. (Blocking RESTART checkpoints from this thread were tried: under steady
    writes they wait seconds for the write lock and then stall every writer.) A no-op for other databases.
    :meth:`stop` runs a last TRUNCATE checkpoint so the WAL is empty after a clean exit.
    """

    def __init__(self, engine: Engine, interval_s: float = 0.25) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._engine.dialect.name != "sqlite" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._checkpoint("TRUNCATE")

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._checkpoint("PASSIVE")

    def _checkpoint(self, mode: str) -> None:
        try:
            # the DB-API connection directly: an SQLAlchemy connection would open a transaction (BEGIN
            # IMMEDIATE, above), and a checkpoint cannot run inside one
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(f"PRAGMA wal_checkpoint({mode})")
                cursor.fetchall()
                cursor.close()
            finally:
                raw.close()
        except Exception as exc:  # a busy or vanished database: the next round (or a commit) catches up
            log.warning("WAL checkpoint (%s) failed: %s", mode, exc)


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
