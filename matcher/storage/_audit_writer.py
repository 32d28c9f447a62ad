"""Group commit of audit entries for read-only requests.

A search reads nothing from the database, yet each one must leave an audit record before its answer goes out.
Written one transaction per request, those records made every search queue for SQLite's single write lock (and
SQLite's busy handler sleeps up to 100 ms between tries), which is where the service's latency tail came from.

:class:`AuditWriter` funnels them through one thread: a request hands over its entries and waits; the thread
writes everything that arrived meanwhile in one transaction and wakes all of them after the commit. So a response
is still sent only once its audit record is durable, but N concurrent searches cost one commit, not N, and never
wait on each other for the lock.

On SQLite an async request first tries to commit its own entries where it is, on the event loop, and hands them
to the thread only when another connection holds the write lock at that instant (see :meth:`AuditWriter.write_async`).

Entries that write something else (an update, an erase, feedback) keep using :class:`AuditRepository` inside
their own transaction, so the change and its record commit together.

GDPR erase racing a search: the search's entries may reach the writer after the erase committed. The writer
checks, in its own transaction, which citizens named by the batch still exist and records the others under the
erase pseudonym, so an erased citizen's id never re-enters the log. (SQLite serialises the two transactions;
on PostgreSQL the existence check takes a share lock on the citizen rows, so an erase that has not committed yet
waits for this batch and then pseudonymises it together with the older entries.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from matcher.storage._repos import AuditEntry, move_staged_audit, pseudonym
from matcher.storage._tables import AuditStagingRow, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
"""How long a request waits for its entries to be committed before it is answered 503."""

LINGER_S = 0.004
"""How long the writer waits for more requests' entries after the first of a batch arrived. Fewer, larger
commits: each one costs its BEGIN, existence query, COMMIT and WAL frames whatever its size. Measured with wrk, two
workers, ad hoc searches on a log of 1 M rows (staged writes, bucketed subject index): 4 ms 315–351 req/s, none
265–314, 2 ms 250–376 (interleaved, same minutes). Before the staging table, when every commit went into the
subject index, the same choice was measured at 325–367 (4 ms) against 270–373 (none). Those measurements predate
the callers' own commits (see :meth:`AuditWriter.write_async`): on SQLite the thread now takes only the entries of
requests that found the write lock held, and of synchronous routes; on PostgreSQL it still takes every request's."""

MAX_BATCH_ROWS = 20_000
"""Entries written in one transaction at most (a batch is whatever arrived while the previous one committed)."""

MOVE_EVERY_ROWS = 10_000
"""The writer stages entries in ``audit_staging`` (no secondary index: cheap commits) and moves them into
``audit_log`` in one transaction once this many have been staged, and on close (see
:class:`~matcher.storage.AuditStagingRow`); any read of the log moves them first as well.

Where the move runs: on SQLite in the writer's own thread, between batches (the move holds the database's only
write lock, so the writer could not commit meanwhile anyway, and a second thread would only add SQLite's busy
sleeps to its commits). On PostgreSQL in a thread of its own, so the writer keeps committing while entries move:
a move and new staged rows never touch the same rows. Measured with benchmarks/api_load.py on PostgreSQL, two
workers: with the move in the writer's thread the wrk p99 of ranked and ad hoc requests was 200–340 ms, with no
moves at all 37–69 ms (a move of 10,000 entries takes ~70 ms alone, far longer on two busy cores, and every
request of that worker waited for it)."""


class AuditUnavailableError(RuntimeError):
    """The audit entries could not be committed (database down or too slow): the request must not be answered."""


@dataclass
class _Pending:
    key_id: int | None
    purpose: str
    entries: Sequence[AuditEntry]
    done: Future[None] = field(default_factory=Future)


_STOP = object()
_MOVE = object()  # queued by a caller's own commit: time to move the staged entries (see _commit_in_caller)


def _in_memory(engine: Engine) -> bool:
    """A SQLite database in memory (it may be a single connection shared by everyone), not in a file."""
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or engine.url.query.get("mode") == "memory"


class AuditWriter:
    """One writer thread that commits the audit entries of many requests per transaction (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        salt: bytes,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        linger_s: float = LINGER_S,
        commit_in_caller: bool | None = None,
    ) -> None:
        """``commit_in_caller``: let :meth:`write_async` commit on the caller's thread when the write lock is
        free (default: on a SQLite database file, see :meth:`write_async`); False: always through the thread."""
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # the column types' own bind processors (see _commit_on), worked out once
        dialect, table = engine.dialect, AuditStagingRow.__table__
        self._at_bind = table.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        self._json_bind = table.c.details.type.dialect_impl(dialect).bind_processor(dialect)  # details, subjects
        self._linger_s = linger_s
        self._salt = salt
        self._timeout_s = timeout_s
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._staged = 0  # entries staged since they were last moved (under _lock: both commit paths add to it)
        self._move_asked = False  # a move is queued for the thread (under _lock)
        if commit_in_caller is None:
            commit_in_caller = self._sqlite and not _in_memory(engine)
        self._in_caller = commit_in_caller
        self._caller_lock = threading.Lock()  # the caller-side connection serves one commit at a time
        self._caller_raw: Any = None  # that connection (busy timeout 0), opened at its first commit
        self._raw: Any = None  # the writer thread's DB-API connection (a pool proxy), opened at its first batch
        # PostgreSQL: the thread that moves staged entries (see MOVE_EVERY_ROWS), started at the first move
        self._mover: threading.Thread | None = None
        self._move_wanted = threading.Event()
        self._mover_stop = False

    def write(self, key_id: int | None, purpose: str, entries: Sequence[AuditEntry]) -> None:
        """Return once ``entries`` are committed; raise :class:`AuditUnavailableError` if they could not be."""
        if not entries:
            return
        done = self._submit(key_id, purpose, entries)
        try:
            done.result(self._timeout_s)
        except TimeoutError:
            raise self._late() from None

    async def write_async(self, key_id: int | None, purpose: str, entries: Sequence[AuditEntry]) -> None:
        """:meth:`write` for the event loop: awaits the commit instead of blocking a thread.

        On a SQLite file the entries are first committed right here, on the loop, if the write lock is free at
        this instant (a connection with no busy timeout: it never waits); only when another connection holds it
        do they go to the writer thread and its batches. Why: a request that leaves the loop for the thread
        comes back only when the loop has finished what queued meanwhile (other requests' rankings), and the
        thread's commit itself waits for the GIL after every SQLite call while the loop ranks. Measured with wrk
        (two workers, 8 connections, ad hoc searches): a request waited 12-15 ms for its audit commit, median,
        and with a few connections per worker every one of them was often waiting while the core idled (7-13 %
        of the two cores). Committing here costs the loop a few hundred µs of SQLite work per request, and
        SQLite's local commit never waits for a disk (WAL, synchronous=NORMAL; this connection leaves WAL
        checkpoints to the others and to :class:`~matcher.storage.WalCheckpointer`)."""
        if not entries:
            return
        if self._in_caller and self._commit_in_caller(key_id, purpose, entries):
            return
        done = self._submit(key_id, purpose, entries)
        try:
            await asyncio.wait_for(asyncio.wrap_future(done), self._timeout_s)
        except TimeoutError:
            raise self._late() from None

    def _submit(self, key_id: int | None, purpose: str, entries: Sequence[AuditEntry]) -> Future[None]:
        item = _Pending(key_id, purpose, entries)
        if not self._enqueue(item):
            raise AuditUnavailableError("audit log: the service is shutting down")
        return item.done

    def _enqueue(self, item: object) -> bool:
        """Queue ``item`` for the thread (started at the first); False once closed."""
        with self._lock:  # nothing may be queued behind the stop marker: it would never be written
            if self._closed:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            self._queue.put(item)
        return True

    def _commit_in_caller(self, key_id: int | None, purpose: str, entries: Sequence[AuditEntry]) -> bool:
        """Commit ``entries`` on this thread if SQLite's write lock is free now; False (nothing written) if it
        is not, or if anything else went wrong: the writer thread then takes them and reports any error."""
        if not self._caller_lock.acquire(blocking=False):
            return False
        try:
            if self._closed:  # checked with the lock held: close() drops the connection under it
                return False
            if self._caller_raw is None:
                raw = self._engine.raw_connection()
                cursor = raw.cursor()
                try:
                    # never wait for the lock here (the thread waits instead), and never copy the WAL back inside
                    # a request's commit (a checkpoint's fsync); the connection is discarded when dropped, so
                    # these settings never reach the pool's other users
                    cursor.execute("PRAGMA busy_timeout=0")
                    cursor.execute("PRAGMA wal_autocheckpoint=0")
                finally:
                    cursor.close()
                self._caller_raw = raw
            item = _Pending(key_id, purpose, entries)
            try:
                self._commit_on(self._caller_raw, [item])
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # busy: the connection is fine
                    self._drop_caller_connection()
                return False
            except Exception:
                self._drop_caller_connection()
                return False
        finally:
            self._caller_lock.release()
        if self._add_staged(len(entries)):
            self._enqueue(_MOVE)  # the thread moves them, off the loop
        return True

    def _add_staged(self, rows: int) -> bool:
        """Count ``rows`` newly staged entries; True (once, until the move is done) when it is time to move."""
        with self._lock:
            self._staged += rows
            if self._staged < MOVE_EVERY_ROWS or self._move_asked or self._closed:
                return False
            self._move_asked = True
            return True

    def _late(self) -> AuditUnavailableError:
        return AuditUnavailableError(f"audit log: entries not committed within {self._timeout_s:.0f} s")

    def close(self) -> None:
        """Write what is queued, move what is staged, then stop the thread (the service calls this on
        shutdown)."""
        with self._lock:
            self._closed = True  # from here new entries are refused
        with self._caller_lock:  # a caller's commit in progress ends first
            self._drop_caller_connection()
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()  # it moves what is staged before it ends
        elif self._staged:
            self._move()  # every entry was committed by its caller: nobody else will move them

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            move = first is _MOVE  # asked for by a caller's own commit (see _commit_in_caller)
            batch: list[_Pending] = [] if move else [first]  # type: ignore[list-item]
            rows = sum(len(item.entries) for item in batch)
            deadline = time.monotonic() + self._linger_s
            while batch and rows < MAX_BATCH_ROWS:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                if nxt is _MOVE:
                    move = True
                    continue
                batch.append(nxt)  # type: ignore[arg-type]
                rows += len(nxt.entries)  # type: ignore[attr-defined]
            # A request that stopped waiting (its await timed out, so it was answered 503 without results) has
            # cancelled its future: its entries are left out, and its future must not be completed again.
            batch = [item for item in batch if item.done.set_running_or_notify_cancel()]
            if batch:
                try:
                    self._commit(batch)
                except Exception as exc:  # every waiter gets the error; the thread lives on for the next batch
                    log.warning("audit writer: batch of %d entries failed: %s", rows, exc)
                    error = AuditUnavailableError(f"audit log: could not be written ({type(exc).__name__})")
                    error.__cause__ = exc
                    for item in batch:
                        item.done.set_exception(error)
                else:
                    for item in batch:
                        item.done.set_result(None)
                    move = self._add_staged(sum(len(item.entries) for item in batch)) or move
            if move:
                self._move_staged()
        self._stop_mover()
        if self._staged or self._mover is not None:
            self._move()  # a clean shutdown leaves nothing staged
        self._drop_connection()

    def _move_staged(self) -> None:
        """Move what is staged now: here on SQLite, by the mover thread elsewhere (see MOVE_EVERY_ROWS)."""
        with self._lock:
            staged, self._staged, self._move_asked = self._staged, 0, False
        if not self._sqlite:
            self._wake_mover()  # it takes everything staged so far
        elif not self._move():
            with self._lock:  # still staged: the next batch tries again
                self._staged += staged

    def _move(self) -> bool:
        """Move the staged entries into ``audit_log`` (after the waiting requests were answered); False if that
        failed (they stay staged, committed, and the next move or any read of the log takes them)."""
        try:
            with self._engine.begin() as conn:
                moved = move_staged_audit(conn)
        except Exception as exc:
            log.warning("audit writer: moving staged entries failed: %s", exc)
            return False
        log.debug("audit writer: moved %d staged entries into audit_log", moved)
        return True

    def _wake_mover(self) -> None:
        if self._mover is None:
            self._mover = threading.Thread(target=self._run_mover, name="audit-mover", daemon=True)
            self._mover.start()
        self._move_wanted.set()

    def _run_mover(self) -> None:
        while True:
            self._move_wanted.wait()
            self._move_wanted.clear()
            if self._mover_stop:
                return
            self._move()

    def _stop_mover(self) -> None:
        """Let a move in progress finish, then end the mover thread (the writer's thread calls this at close)."""
        if self._mover is not None:
            self._mover_stop = True
            self._move_wanted.set()
            self._mover.join()

    def _commit(self, batch: Sequence[_Pending]) -> None:
        kept = self._raw is not None
        try:
            self._commit_once(batch)
        except Exception:
            if not kept:
                raise
            # the kept connection may have gone stale (the database restarted): once more, on a new one
            self._commit_once(batch)

    def _commit_once(self, batch: Sequence[_Pending]) -> None:
        if self._raw is None:
            # the writer's own connection, kept across batches (a pool checkout and its reset on return cost as
            # much as a small batch's SQL); SQLite: autocommit until our BEGIN (see make_engine)
            self._raw = self._engine.raw_connection()
        try:
            self._commit_on(self._raw, batch)
        except BaseException:
            self._drop_connection()  # perhaps broken: the next batch opens a new one
            raise

    def _commit_on(self, raw: Any, batch: Sequence[_Pending]) -> None:
        """Stage ``batch`` in one transaction on the DB-API connection ``raw`` (rolled back if anything fails)."""
        # A handful of statements on the DB-API connection, whatever the batch: the ORM's per-row work cost more
        # than SQLite's insert, and every SQLite statement step (each row of an executemany, each row fetched)
        # releases the GIL and must take it back from the request thread, which holds it while it ranks: that
        # handover waits up to the interpreter's switch interval (5 ms) and cost the service a tenth of its CPU
        # when a batch took ~30 of them. So on SQLite: one BEGIN, one existence query answering in one row, one
        # multi-row INSERT per few thousand staged rows, one COMMIT (psycopg fetches and pipelines whole results, so
        # PostgreSQL keeps one prepared single-row INSERT). Values are converted by the column types' own bind
        # processors, so the rows are stored exactly as AuditRepository stores them.
        sqlite, at_bind, json_bind = self._sqlite, self._at_bind, self._json_bind
        encoded: dict[int, Any] = {}  # routes share one details dict among a request's entries: encode it once
        now = utcnow()
        at = at_bind(now) if at_bind else now
        named = sorted({int(e.subject_id) for item in batch for e in item.entries if _names_citizen(e)})
        cursor = raw.cursor()
        try:
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            existing = _existing_citizens(cursor, named, sqlite)
            erased = set(named) - existing
            rows: list[tuple[Any, ...]] = []
            for item in batch:
                # one staged row per run of entries that differ only in their subject (see AuditStagingRow)
                for action, subject_type, details, run in _runs(item.entries):
                    subjects = [
                        pseudonym(self._salt, "citizen", e.subject_id)
                        if erased and _names_citizen(e) and int(e.subject_id) in erased
                        else str(e.subject_id)
                        for e in run
                    ]
                    stored = details if details else _NO_DETAILS
                    if json_bind is not None:
                        if id(stored) not in encoded:
                            encoded[id(stored)] = json_bind(stored)
                        stored = encoded[id(stored)]
                    if len(subjects) == 1:
                        one, many = subjects[0], None
                    else:
                        one, many = "", json_bind(subjects) if json_bind is not None else subjects
                    rows.append((at, item.key_id, action, item.purpose, subject_type, one, stored, many))
            insert = (
                f"INSERT INTO {AuditStagingRow.__tablename__} "
                "(at, key_id, action, purpose, subject_type, subject_id, details, subjects) VALUES "
            )
            if sqlite:  # one statement per few thousand rows: one step, one GIL hand-over
                one = "(?, ?, ?, ?, ?, ?, ?, ?)"
                for i in range(0, len(rows), INSERT_ROWS):
                    chunk = rows[i : i + INSERT_ROWS]
                    cursor.execute(insert + ", ".join([one] * len(chunk)), [v for row in chunk for v in row])
            else:  # psycopg sends the rows in one pipeline of one prepared statement (a statement text per
                # batch size would be parsed and planned by the server every time)
                cursor.executemany(insert + "(%s, %s, %s, %s, %s, %s, CAST(%s AS JSON), CAST(%s AS JSON))", rows)
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            cursor.close()

    def _drop_connection(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped either way
                raw.close()

    def _drop_caller_connection(self) -> None:
        """Discard the caller-side connection (with _caller_lock held); its settings must not reach the pool."""
        raw, self._caller_raw = self._caller_raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()


_NO_DETAILS: dict[str, Any] = {}
"""Stored for entries without details (never changed: it is encoded once per batch, by its id)."""

INSERT_ROWS = 4_000
"""Staged rows per SQLite INSERT statement (8 parameters each: SQLite allows 32,766 per statement)."""


def _existing_citizens(cursor: Any, ids: list[int], sqlite: bool) -> set[int]:
    """Which of ``ids`` are stored citizens, in the cursor's transaction."""
    existing: set[int] = set()
    for i in range(0, len(ids), 10_000):  # SQLite allows 32,766 parameters per statement
        chunk = ids[i : i + 10_000]
        if sqlite:  # one row back (group_concat), not one step per citizen
            cursor.execute(
                f"SELECT group_concat(id) FROM citizens WHERE id IN ({', '.join('?' * len(chunk))})", tuple(chunk)
            )
            found = cursor.fetchone()[0]
            if found:
                existing.update(int(x) for x in str(found).split(","))
        else:  # psycopg fetches the whole result at once; the share lock orders us against an erase (module doc)
            cursor.execute("SELECT id FROM citizens WHERE id = ANY(%s) FOR SHARE", (chunk,))
            existing.update(row[0] for row in cursor.fetchall())
    return existing


def _runs(entries: Sequence[AuditEntry]) -> list[tuple[str, str, dict[str, Any] | None, Sequence[AuditEntry]]]:
    """``entries`` cut into runs of consecutive entries with the same action, subject type and details (the same
    dict object, or equal ones): (action, subject type, details, the run)."""
    runs: list[tuple[str, str, dict[str, Any] | None, Sequence[AuditEntry]]] = []
    start = 0
    for i in range(1, len(entries) + 1):
        if i < len(entries):
            a, b = entries[start], entries[i]
            if (
                a.action == b.action
                and a.subject_type == b.subject_type
                and (a.details is b.details or a.details == b.details)
            ):
                continue
        first = entries[start]
        runs.append((first.action, first.subject_type, first.details, entries[start:i]))
        start = i
    return runs


def _names_citizen(entry: AuditEntry) -> bool:
    return entry.subject_type == "citizen" and isinstance(entry.subject_id, int)
