"""The group-commit audit writer: what it acknowledges is committed, many requests share a transaction, an
erased citizen never re-enters the log, and failures reach every waiter."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import text

from matcher.storage import (
    AuditEntry,
    AuditRepository,
    AuditUnavailableError,
    AuditWriter,
    CitizenRepository,
    WalCheckpointer,
    make_engine,
    pseudonym,
    session_factory,
    transaction,
    upgrade,
)
from tests.storage import _samples as s

SALT = b"s" * 32


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _entries(ids: list[int], action: str = "candidates.read") -> list[AuditEntry]:
    about = {"vacancy_id": 7}  # one dict shared by a request's entries, as the routes do
    return [AuditEntry(action, "citizen", i, about) for i in ids]


def test_acknowledged_entries_are_committed_and_read_back_like_repository_rows(engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        cids = CitizenRepository(session).add_many([s.citizen(i) for i in range(3)])
        AuditRepository(session).record(1, "casework", [AuditEntry("citizen.read", "citizen", cids[0], {"x": 1})])
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(5, "matching", _entries(cids))
        # a separate engine sees the rows as soon as write() returned: they are committed, not buffered
        other = make_engine(str(engine.url.render_as_string(hide_password=False)))
        try:
            with transaction(session_factory(other)) as session:
                rows = list(AuditRepository(session).since())
        finally:
            other.dispose()
    finally:
        writer.close()
    written = [r for r in rows if r.key_id == 5]
    assert [(r.action, r.purpose, r.subject_type, r.subject_id) for r in written] == [
        ("candidates.read", "matching", "citizen", str(c)) for c in cids
    ]
    assert all(r.details == {"vacancy_id": 7} for r in written)
    # same storage format as the ORM path: aware UTC timestamps that order with the repository's own rows
    first = next(r for r in rows if r.key_id == 1)
    assert all(r.at.tzinfo is not None and r.at >= first.at for r in written)


def test_concurrent_writers_share_transactions_and_lose_nothing(engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        cids = CitizenRepository(session).add_many([s.citizen(i) for i in range(20)])
    writer = AuditWriter(engine, SALT)
    commits = 0
    real_commit = writer._commit

    def counting_commit(batch):  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1
        real_commit(batch)

    writer._commit = counting_commit  # type: ignore[method-assign]
    n_threads, per_thread = 8, 25
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def client(k: int) -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                writer.write(k, "matching", _entries(cids))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    with transaction(factory) as session:
        rows = list(AuditRepository(session).since())
    assert len(rows) == n_threads * per_thread * len(cids)
    for k in range(n_threads):
        assert sum(r.key_id == k for r in rows) == per_thread * len(cids)
    assert commits < n_threads * per_thread  # grouped: fewer transactions than requests


def test_entries_about_a_citizen_erased_before_they_are_written_keep_only_the_pseudonym(engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        kept, erased = CitizenRepository(session).add_many([s.citizen(1), s.citizen(2)])
    with transaction(factory) as session:  # the erase commits first, the search's entries arrive after
        CitizenRepository(session).erase(erased)
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(3, "matching", _entries([kept, erased]))
    finally:
        writer.close()
    with transaction(factory) as session:
        subjects = [r.subject_id for r in AuditRepository(session).since()]
    assert subjects == [str(kept), pseudonym(SALT, "citizen", erased)]
    assert str(erased) not in subjects


def test_a_failed_commit_raises_for_every_waiter_and_the_writer_recovers(engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        (cid,) = CitizenRepository(session).add_many([s.citizen(1)])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_staging RENAME TO audit_staging_away"))
    writer = AuditWriter(engine, SALT)
    try:
        with pytest.raises(AuditUnavailableError):
            writer.write(1, "matching", _entries([cid]))
        with pytest.raises(AuditUnavailableError):
            asyncio.run(writer.write_async(1, "matching", _entries([cid])))
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_staging_away RENAME TO audit_staging"))
        asyncio.run(writer.write_async(2, "matching", _entries([cid])))
    finally:
        writer.close()
    with transaction(factory) as session:
        assert [r.key_id for r in AuditRepository(session).since()] == [2]


def test_the_writer_replaces_a_kept_connection_that_went_stale(engine) -> None:
    """The writer keeps one connection across batches; when it breaks (a database restart), the next batch is
    written on a new one instead of failing."""
    factory = session_factory(engine)
    with transaction(factory) as session:
        (cid,) = CitizenRepository(session).add_many([s.citizen(1)])
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(1, "matching", _entries([cid]))
        kept = writer._raw
        assert kept is not None
        kept.driver_connection.close()  # what a server restart leaves behind: a connection that cannot be used
        writer.write(2, "matching", _entries([cid]))
        assert writer._raw is not None and writer._raw is not kept
    finally:
        writer.close()
    assert writer._raw is None  # closed with the writer
    with transaction(factory) as session:
        assert [r.key_id for r in AuditRepository(session).since()] == [1, 2]


@pytest.mark.parametrize("used", [False, True], ids=["never-used", "used"])
def test_a_closed_writer_refuses_new_entries_at_once(engine, used: bool) -> None:
    writer = AuditWriter(engine, SALT, timeout_s=60)
    if used:
        writer.write(1, "matching", [AuditEntry("citizen.list", "citizen", "none")])
    writer.close()
    with pytest.raises(AuditUnavailableError, match="shutting down"):
        writer.write(1, "matching", _entries([1]))


def test_wal_checkpointer_keeps_the_wal_bounded_and_empties_it_on_stop(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ckpt.sqlite'}")
    upgrade(engine)
    wal = tmp_path / "ckpt.sqlite-wal"
    checkpointer = WalCheckpointer(engine, interval_s=0.01)
    checkpointer.start()
    writer = AuditWriter(engine, SALT, linger_s=0)
    try:
        for i in range(300):
            writer.write(1, "matching", [AuditEntry("citizen.list", "citizen", f"x{i}-{j}") for j in range(20)])
    finally:
        writer.close()
        checkpointer.stop()
    assert wal.stat().st_size == 0  # the last TRUNCATE checkpoint left nothing behind
    with transaction(session_factory(engine)) as session:
        assert sum(1 for _ in AuditRepository(session).since()) == 300 * 20
    engine.dispose()


def test_a_request_that_gave_up_waiting_is_left_out_and_the_writer_goes_on(engine) -> None:
    # the thread's queue is what is tested: the async request must not commit its own entries
    writer = AuditWriter(engine, SALT, timeout_s=0.2, linger_s=0, commit_in_caller=False)
    release = threading.Event()
    real_commit = writer._commit

    def slow_first_commit(batch):  # type: ignore[no-untyped-def]
        release.wait(5)
        real_commit(batch)

    writer._commit = slow_first_commit  # type: ignore[method-assign]
    outcome: list[str] = []

    def blocked_request() -> None:  # a sync caller that times out too, but whose entries were already taken
        try:
            writer.write(1, "matching", [AuditEntry("citizen.list", "citizen", "a")])
            outcome.append("written")
        except AuditUnavailableError:
            outcome.append("timed out")

    first = threading.Thread(target=blocked_request)
    first.start()
    time.sleep(0.05)  # the first batch is now being committed (and held)
    with pytest.raises(AuditUnavailableError, match="not committed within"):
        asyncio.run(writer.write_async(2, "matching", [AuditEntry("citizen.list", "citizen", "b")]))
    release.set()
    first.join()
    writer._commit = real_commit  # type: ignore[method-assign]
    writer.write(3, "matching", [AuditEntry("citizen.list", "citizen", "c")])
    writer.close()
    assert outcome == ["timed out"]
    with transaction(session_factory(engine)) as session:  # the batch in progress is written (logging a read
        # that was not answered is harmless); the entries of the request that withdrew while queued are not
        assert [r.key_id for r in AuditRepository(session).since()] == [1, 3]


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_staged_entries_are_seen_by_every_read_and_erase_in_time_order(engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as session:
        cids = CitizenRepository(session).add_many([s.citizen(i) for i in range(2)])
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(5, "matching", _entries(cids))  # staged (one row for both), not yet in audit_log
        assert _count(engine, "audit_staging") == 1 and _count(engine, "audit_log") == 0
        time.sleep(0.01)
        with transaction(factory) as session:  # written straight into audit_log, later in time
            AuditRepository(session).record(6, "casework", [AuditEntry("citizen.update", "citizen", cids[0])])
        with transaction(factory) as session:
            about = AuditRepository(session).about("citizen", cids[0])
        assert [(r.key_id, r.action) for r in about] == [(5, "candidates.read"), (6, "citizen.update")]
        assert _count(engine, "audit_staging") == 0  # the read moved them
        writer.write(7, "matching", _entries([cids[1]]))
        with transaction(factory) as session:  # an erase pseudonymises staged entries too
            alias = pseudonym(SALT, "citizen", cids[1])
            assert AuditRepository(session).pseudonymise("citizen", cids[1], alias) == 2
        with transaction(factory) as session:
            rows = list(AuditRepository(session).since())
        assert [r.key_id for r in rows] == [5, 5, 6, 7]
        assert not [r for r in rows if r.subject_id == str(cids[1])]
    finally:
        writer.close()


def test_a_request_s_entries_are_staged_as_runs_and_move_one_row_per_entry_in_order(engine) -> None:
    """Consecutive entries that differ only in their subject share one staged row; the move gives back every
    entry as its own audit_log row, in order, with its own action, subject type and details; an erased citizen
    inside a run is written under the pseudonym at its place."""
    factory = session_factory(engine)
    with transaction(factory) as session:
        c1, c2, c3, gone = CitizenRepository(session).add_many([s.citizen(i) for i in range(4)])
    with transaction(factory) as session:
        CitizenRepository(session).erase(gone)
    about, other = {"vacancy_id": 7}, {"vacancy_id": 8}
    entries = [
        AuditEntry("candidates.read", "citizen", c1, about),
        AuditEntry("candidates.read", "citizen", gone, about),
        AuditEntry("candidates.read", "citizen", c2, dict(about)),  # an equal dict: the same run
        AuditEntry("candidates.read", "citizen", c3, other),  # other details: a new run
        AuditEntry("citizen.read", "citizen", c3, other),  # other action: a new run
        AuditEntry("vacancy.read", "vacancy", 11),  # other subject type, no details
        AuditEntry("vacancy.read", "vacancy", 12),
        AuditEntry("vacancy.read", "vacancy", "x-13"),
    ]
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(4, "matching", entries)
        assert _count(engine, "audit_staging") == 4
        with transaction(factory) as session:
            rows = list(AuditRepository(session).since())
    finally:
        writer.close()
    assert [(r.key_id, r.purpose, r.action, r.subject_type, r.subject_id, r.details) for r in rows] == [
        (4, "matching", "candidates.read", "citizen", str(c1), about),
        (4, "matching", "candidates.read", "citizen", pseudonym(SALT, "citizen", gone), about),
        (4, "matching", "candidates.read", "citizen", str(c2), about),
        (4, "matching", "candidates.read", "citizen", str(c3), other),
        (4, "matching", "citizen.read", "citizen", str(c3), other),
        (4, "matching", "vacancy.read", "vacancy", "11", {}),
        (4, "matching", "vacancy.read", "vacancy", "12", {}),
        (4, "matching", "vacancy.read", "vacancy", "x-13", {}),
    ]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert _count(engine, "audit_staging") == 0


def test_downgrading_past_grouped_staging_moves_every_staged_entry_into_the_log(db_url: str) -> None:
    """Migration 0007's downgrade: rows that stand for several entries cannot stay staged without their column."""
    from alembic import command

    from matcher.storage import alembic_config

    engine = make_engine(db_url)
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(2, "matching", _vacancy_reads([1, 2, 3]))
        writer.write(2, "matching", _vacancy_reads([4]))
    finally:
        writer.close()  # a clean stop moves what it staged into the log: two rows are staged by hand below
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_staging (at, key_id, action, purpose, subject_type, subject_id, details, "
                    "subjects) VALUES (:at, 3, 'vacancy.read', 'matching', 'vacancy', :one, :details, :many)"
                ),
                [
                    {"at": "2026-11-23 20:00:00", "one": "", "details": "{}", "many": '["5", "6"]'},
                    {"at": "2026-11-23 20:00:00", "one": "7", "details": "{}", "many": None},
                ],
            )
        command.downgrade(alembic_config(engine), "0006")
        assert _count(engine, "audit_staging") == 0
        with engine.connect() as conn:
            moved = conn.execute(text("SELECT key_id, subject_id FROM audit_log ORDER BY id")).all()
        assert [tuple(r) for r in moved] == [(2, "1"), (2, "2"), (2, "3"), (2, "4"), (3, "5"), (3, "6"), (3, "7")]
    finally:
        upgrade(engine)
        engine.dispose()


def _vacancy_reads(ids: list[int]) -> list[AuditEntry]:
    return [AuditEntry("vacancy.read", "vacancy", i) for i in ids]


def test_the_writer_moves_staged_entries_in_batches_and_at_close(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from matcher.storage import _audit_writer

    monkeypatch.setattr(_audit_writer, "MOVE_EVERY_ROWS", 5)
    writer = AuditWriter(engine, SALT)
    try:
        writer.write(1, "matching", _vacancy_reads([1, 2, 3]))  # three entries in one staged row
        assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (1, 0)
        writer.write(1, "matching", _vacancy_reads([4, 5, 6]))  # 6 staged ≥ 5: moved once the batch is answered
        deadline = time.monotonic() + 5
        while _count(engine, "audit_log") < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 6)
        writer.write(1, "matching", _vacancy_reads([7]))
    finally:
        writer.close()
    assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 7)  # a clean stop moves the rest
    with transaction(session_factory(engine)) as session:
        subjects = [r.subject_id for r in AuditRepository(session).since()]
    assert subjects == [str(i) for i in range(1, 8)]


def test_on_postgresql_the_writer_keeps_committing_while_a_move_waits(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The move runs in a thread of its own there (see MOVE_EVERY_ROWS): a move held up by a lock on the log does
    not hold up the requests, and what it was to move still arrives, in order, by the writer's close."""
    if engine.dialect.name == "sqlite":
        pytest.skip("on SQLite the move runs in the writer's thread: it holds the only write lock anyway")
    from matcher.storage import _audit_writer

    monkeypatch.setattr(_audit_writer, "MOVE_EVERY_ROWS", 2)
    writer = AuditWriter(engine, SALT, timeout_s=5)
    blocker = engine.connect()
    try:
        blocker.begin()
        blocker.execute(text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))  # any move now waits for it
        writer.write(1, "matching", _vacancy_reads([1, 2]))  # 2 staged: the mover starts, and waits on the lock
        time.sleep(0.3)
        started = time.monotonic()
        for i in range(3, 9):
            writer.write(1, "matching", _vacancy_reads([i]))  # 6 more commits while the move is still waiting
        assert time.monotonic() - started < 3
        blocker.rollback()
    finally:
        blocker.close()
        writer.close()
    assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 8)
    with transaction(session_factory(engine)) as session:
        subjects = [r.subject_id for r in AuditRepository(session).since()]
    assert subjects == [str(i) for i in range(1, 9)]


def _sqlite_only(engine) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("a caller commits its own entries on SQLite only (a local file: no network wait on the loop)")


def test_on_sqlite_an_async_request_commits_its_own_entries_without_the_thread(engine) -> None:
    _sqlite_only(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        kept, erased = CitizenRepository(session).add_many([s.citizen(1), s.citizen(2)])
    with transaction(factory) as session:
        CitizenRepository(session).erase(erased)
    writer = AuditWriter(engine, SALT)
    try:
        asyncio.run(writer.write_async(4, "matching", _entries([kept, erased])))
        assert writer._thread is None  # committed by the caller: the writer thread was never needed
        # committed before write_async returned, as the thread's path does
        assert _count(engine, "audit_staging") == 1
    finally:
        writer.close()
    with transaction(factory) as session:
        rows = list(AuditRepository(session).since())
    # the same rows as the thread writes, with the erased citizen pseudonymised; close moved them into the log
    assert [(r.key_id, r.action, r.subject_id, r.details) for r in rows] == [
        (4, "candidates.read", str(kept), {"vacancy_id": 7}),
        (4, "candidates.read", pseudonym(SALT, "citizen", erased), {"vacancy_id": 7}),
    ]
    assert _count(engine, "audit_staging") == 0


def test_on_sqlite_a_held_write_lock_sends_the_entries_to_the_thread_without_blocking_the_caller(engine) -> None:
    """The caller's connection never waits for SQLite's lock: while another connection holds it, the entries
    go to the writer thread, which waits for the lock and commits them once it is free."""
    _sqlite_only(engine)
    writer = AuditWriter(engine, SALT, timeout_s=10)
    blocker = engine.raw_connection()
    cursor = blocker.cursor()
    cursor.execute("BEGIN IMMEDIATE")  # the write lock, held

    async def request() -> float:
        started = time.monotonic()
        task = asyncio.create_task(writer.write_async(1, "matching", _vacancy_reads([1, 2])))
        await asyncio.sleep(0)  # the request runs up to its wait for the thread
        handed_over = time.monotonic() - started
        await asyncio.sleep(0.3)
        assert not task.done()  # not acknowledged: nothing is committed while the lock is held
        cursor.execute("ROLLBACK")  # the lock is free: the thread's commit goes through
        await asyncio.wait_for(task, 10)
        return handed_over

    try:
        assert asyncio.run(request()) < 0.1  # the caller did not sit in SQLite's busy handler
        assert writer._thread is not None  # the thread wrote them
        assert _count(engine, "audit_staging") == 1
        asyncio.run(writer.write_async(1, "matching", _vacancy_reads([3])))  # lock free again: the caller's own
    finally:
        cursor.close()
        blocker.close()
        writer.close()
    with transaction(session_factory(engine)) as session:
        subjects = [r.subject_id for r in AuditRepository(session).since()]
    assert subjects == ["1", "2", "3"]


def test_on_sqlite_the_callers_own_commits_are_moved_by_the_thread_in_batches(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sqlite_only(engine)
    from matcher.storage import _audit_writer

    monkeypatch.setattr(_audit_writer, "MOVE_EVERY_ROWS", 4)
    writer = AuditWriter(engine, SALT)
    try:
        asyncio.run(writer.write_async(1, "matching", _vacancy_reads([1, 2])))
        assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (1, 0)
        assert writer._thread is None
        asyncio.run(writer.write_async(1, "matching", _vacancy_reads([3, 4])))  # 4 staged: the thread moves them
        deadline = time.monotonic() + 5
        while _count(engine, "audit_log") < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 4)
        asyncio.run(writer.write_async(1, "matching", _vacancy_reads([5])))
    finally:
        writer.close()
    assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 5)  # close moved the rest
    with transaction(session_factory(engine)) as session:
        subjects = [r.subject_id for r in AuditRepository(session).since()]
    assert subjects == [str(i) for i in range(1, 6)]


def test_entries_committed_only_by_callers_are_moved_at_close_and_a_closed_writer_refuses_more(engine) -> None:
    _sqlite_only(engine)
    writer = AuditWriter(engine, SALT)
    asyncio.run(writer.write_async(1, "matching", _vacancy_reads([1])))
    writer.close()
    assert writer._thread is None
    assert (_count(engine, "audit_staging"), _count(engine, "audit_log")) == (0, 1)
    with pytest.raises(AuditUnavailableError, match="shutting down"):
        asyncio.run(writer.write_async(1, "matching", _vacancy_reads([2])))
    assert _count(engine, "audit_log") == 1
