"""The index change feed: which citizens, needs and overrides changed, in commit order (table ``index_changes``).

Every service process holds the match index in memory. The repositories call :func:`record_change` in the
transaction of each write that the index depends on, so the feed says exactly what was committed, by whichever
process (another worker of ``matcher serve --workers N``, ``matcher import``, the demo seeder). A process
compares the newest ``seq`` with the last one its index reflects (:class:`ChangeFeed`, one cheap query) and, when
behind, reloads the changed entities from their tables (:class:`ChangeFeedRepository`).

Commit order: the reader takes "every change up to seq N is reflected" from having seen N, so a change with a
smaller seq must never commit after one with a larger. SQLite serialises write transactions (the engine opens
them with BEGIN IMMEDIATE). On PostgreSQL a sequence hands out values at insert time, not at commit, so the
writer first takes a transaction-scoped advisory lock: the next writer draws its seq only after this one has
committed or rolled back. The lock is taken at the end of each repository write (after its row locks), and what
follows it in a transaction is inserts and the commit, so it cannot close a cycle of waits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import CursorResult, Engine, delete, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from matcher.storage._tables import Base, IndexChangeRow, ServiceMetaRow, utcnow

CITIZEN = "citizen"
NEED = "need"
OVERRIDES = "overrides"
CHANGE_KINDS = (CITIZEN, NEED, OVERRIDES)

_PG_LOCK_KEY = 0x6D61_7463_6865_72  # any constant: the advisory-lock key of the feed ("matcher")
_STASH = "matcher.index_changes"
PRUNED_THROUGH_KEY = "index_changes_pruned_through"


def record_change(session: Session, kind: str, ids: Sequence[int] | None = None) -> None:
    """Append one feed row per id (one row without an id for :data:`OVERRIDES`) to ``session``'s transaction.

    The rows' seqs are kept on the session for :func:`committed_changes`: the process that wrote them updates its
    own index from the objects it holds and must not reload them."""
    if kind not in CHANGE_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {CHANGE_KINDS}")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    now = utcnow()
    values = [{"kind": kind, "entity_id": i, "at": now} for i in (ids if ids is not None else [None])]
    if not values:
        return
    table = Base.metadata.tables[IndexChangeRow.__tablename__]
    seqs = session.execute(insert(table).returning(table.c.seq), values).scalars().all()
    session.info.setdefault(_STASH, []).extend(int(s) for s in seqs)


def committed_changes(session: Session) -> list[int]:
    """The seqs :func:`record_change` drew in ``session`` since the last call (call it after the commit)."""
    seqs: list[int] = session.info.pop(_STASH, [])
    return seqs


class ChangeFeedRepository:
    """Reading and pruning the feed inside a transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self) -> int:
        """The newest seq, 0 for an empty feed."""
        return int(self.session.scalar(select(func.max(IndexChangeRow.seq))) or 0)

    def since(self, after: int, upto: int) -> list[tuple[int, str, int | None]]:
        """(seq, kind, entity id) of the changes with ``after < seq <= upto``, in seq order."""
        query = (
            select(IndexChangeRow.seq, IndexChangeRow.kind, IndexChangeRow.entity_id)
            .where(IndexChangeRow.seq > after, IndexChangeRow.seq <= upto)
            .order_by(IndexChangeRow.seq)
        )
        return [(int(s), k, e) for s, k, e in self.session.execute(query)]

    def pruned_through(self) -> int:
        """Every change with a seq up to this one may have been pruned (0: none ever was)."""
        row = self.session.get(ServiceMetaRow, PRUNED_THROUGH_KEY)
        return int(row.value) if row is not None else 0

    def prune(self, older_than: dt.timedelta) -> int:
        """Delete changes older than ``older_than``, always keeping the newest (the feed's position must survive),
        and record how far pruning went. A process whose index is older than that reloads it whole. Returns the
        number of rows deleted."""
        newest = self.latest()
        cutoff = utcnow() - older_than
        last = self.session.scalar(
            select(func.max(IndexChangeRow.seq)).where(IndexChangeRow.at < cutoff, IndexChangeRow.seq < newest)
        )
        if last is None:
            return 0
        result: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            delete(IndexChangeRow).where(IndexChangeRow.seq <= last)
        )
        deleted = result.rowcount
        row = self.session.get(ServiceMetaRow, PRUNED_THROUGH_KEY)
        if row is None:
            self.session.add(ServiceMetaRow(key=PRUNED_THROUGH_KEY, value=str(last)))
        elif int(row.value) < last:
            row.value = str(last)
        self.session.flush()
        return int(deleted or 0)


class ChangeFeed:
    """The newest seq, asked once per request: one statement on a connection of its own, kept open.

    A pooled SQLAlchemy session costs a checkout, a transaction and the ORM's bookkeeping; this is a bare DB-API
    cursor in autocommit mode (each statement sees every commit so far), serialised by a lock. A failure closes
    the connection (the next call opens a new one) and raises SQLAlchemy's OperationalError, which the API answers
    with 503.
    """

    _SQL = "SELECT max(seq) FROM index_changes"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Any = None
        self._proxy: Any = None

    def latest(self) -> int:
        with self._lock:
            try:
                if self._conn is None:
                    self._open()
                cursor = self._conn.cursor()
                try:
                    cursor.execute(self._SQL)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self._engine.dialect.loaded_dbapi.Error as exc:
                self._close()
                raise OperationalError(self._SQL, None, exc) from exc
        return int(row[0] or 0) if row else 0

    def _open(self) -> None:
        proxy = self._engine.raw_connection()
        conn: Any = proxy.driver_connection
        proxy.detach()  # ours until close(): never handed back to the pool with autocommit on
        if self._engine.dialect.name == "sqlite":
            conn.isolation_level = None  # autocommit (the engine's connect hook sets it too)
        else:
            conn.autocommit = True
        self._proxy, self._conn = proxy, conn

    def _close(self) -> None:
        proxy, self._proxy, self._conn = self._proxy, None, None
        if proxy is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped either way
                proxy.close()

    def close(self) -> None:
        with self._lock:
            self._close()


def entity_ids(changes: Iterable[tuple[int, str, int | None]], kind: str) -> set[int]:
    """The ids of ``kind`` named in ``changes``."""
    return {e for _, k, e in changes if k == kind and e is not None}
