"""The run's rows in the database: claiming a run (new or resumed), committing blocks with their checkpoint,
finishing, failing, pruning, and reading runs back for the API.

Statuses: ``running`` → ``completed`` | ``failed``. Only one run may be ``running`` at a time; that row is the
DB-level guard. A ``running`` row whose owner is gone (same host and its pid no longer exists, or no heartbeat
for ``STALE_AFTER``) is stale: killed with ``kill -9`` or lost with its machine, and may be taken over.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from matcher.storage import RankingResultRow, RankingRunRow
from matcher.storage._tables import (
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_RUNNING,
    RankingBlockRow,
    RankingListRow,
    utcnow,
)

log = logging.getLogger(__name__)

RUNNING, COMPLETED, FAILED = RUN_RUNNING, RUN_COMPLETED, RUN_FAILED
STALE_AFTER = dt.timedelta(minutes=15)
"""A running run without a heartbeat for this long is taken to be dead (blocks commit far more often)."""


class RunInProgressError(RuntimeError):
    """Another live process is running a ranking run."""

    def __init__(self, run: RankingRunRow) -> None:
        super().__init__(
            f"ranking run {run.id} is in progress (owner {run.owner}, last heartbeat {run.heartbeat_at}); "
            "wait for it to finish"
        )
        self.run_id = run.id


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # cannot tell from here; the heartbeat decides
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(run: RankingRunRow, now: dt.datetime | None = None) -> bool:
    """A ``running`` run whose process is gone."""
    now = now or utcnow()
    if run.heartbeat_at is not None and now - run.heartbeat_at > STALE_AFTER:
        return True
    return not _owner_alive(run.owner)


def lock_runs(session: Session) -> None:
    """Serialise run claims. SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs a lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ranking_runs IN SHARE ROW EXCLUSIVE MODE"))


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run's results: a resumed run must match all of it."""

    config_hash: str
    data_hash: str
    model_version: str
    top_k: int
    as_of: dt.date
    block_size: int
    blocks_total: int
    n_citizens: int
    n_needs: int


def active_run(session: Session) -> RankingRunRow | None:
    return session.scalars(
        select(RankingRunRow).where(RankingRunRow.status == RUNNING).order_by(RankingRunRow.id)
    ).first()


def latest_completed(session: Session) -> RankingRunRow | None:
    """The run the API serves: the newest completed one (a failed or partial run never replaces it)."""
    query = (
        select(RankingRunRow)
        .where(RankingRunRow.status == COMPLETED)
        .order_by(RankingRunRow.finished_at.desc(), RankingRunRow.id.desc())
    )
    return session.scalars(query).first()


def find_resumable(session: Session, config_hash: str, data_hash: str) -> RankingRunRow | None:
    """The newest unfinished (failed or stale running) run with the same configuration and data."""
    query = (
        select(RankingRunRow)
        .where(
            RankingRunRow.status.in_((RUNNING, FAILED)),
            RankingRunRow.config_hash == config_hash,
            RankingRunRow.data_hash == data_hash,
            RankingRunRow.blocks_total > 0,
        )
        .order_by(RankingRunRow.id.desc())
    )
    return session.scalars(query).first()


def claim(session: Session, spec: RunSpec, *, resume: bool, reuse: bool) -> tuple[RankingRunRow, str]:
    """Start a new run or take over an unfinished one; returns (run, how): how is 'new', 'resumed' or 'reused'
    (an identical completed run exists and ``reuse`` is set: nothing to do). RunInProgressError when a live
    process is running one."""
    lock_runs(session)
    running = active_run(session)
    if running is not None and not is_stale(running):
        raise RunInProgressError(running)
    if reuse:
        done = latest_completed(session)
        if (
            done is not None
            and done.config_hash == spec.config_hash
            and done.data_hash == spec.data_hash
            and done.as_of == spec.as_of
            and done.model_version == spec.model_version
        ):
            return done, "reused"
    now = utcnow()
    if resume:
        old = find_resumable(session, spec.config_hash, spec.data_hash)
        if old is not None and old.model_version == spec.model_version and old.top_k == spec.top_k:
            old.status, old.owner, old.heartbeat_at, old.error, old.finished_at = RUNNING, this_owner(), now, None, None
            _mark_others_failed(session, keep=old.id)
            session.flush()
            return old, "resumed"
    _mark_others_failed(session, keep=None)
    run = RankingRunRow(
        status=RUNNING,
        started_at=now,
        created_at=now,
        config_hash=spec.config_hash,
        data_hash=spec.data_hash,
        model_version=spec.model_version,
        top_k=spec.top_k,
        as_of=spec.as_of,
        block_size=spec.block_size,
        blocks_total=spec.blocks_total,
        blocks_done=0,
        n_citizens=spec.n_citizens,
        n_needs=spec.n_needs,
        n_results=0,
        owner=this_owner(),
        heartbeat_at=now,
    )
    session.add(run)
    session.flush()
    return run, "new"


def _mark_others_failed(session: Session, keep: int | None) -> None:
    """Stale ``running`` rows (their process is gone) become failed, so the guard is free again."""
    query = update(RankingRunRow).where(RankingRunRow.status == RUNNING)
    if keep is not None:
        query = query.where(RankingRunRow.id != keep)
    session.execute(query.values(status=FAILED, error="abandoned: its process stopped", finished_at=utcnow()))


def done_blocks(session: Session, run_id: int) -> set[int]:
    return set(session.scalars(select(RankingBlockRow.block).where(RankingBlockRow.run_id == run_id)))


def partials(session: Session, run_id: int) -> Iterator[tuple[int, bytes]]:
    """(block, npz bytes) of every completed block, in block order."""
    query = (
        select(RankingBlockRow.block, RankingBlockRow.partial)
        .where(RankingBlockRow.run_id == run_id)
        .order_by(RankingBlockRow.block)
        .execution_options(yield_per=4)
    )
    for block, blob in session.execute(query):
        if blob is None:
            raise RuntimeError(f"ranking run {run_id}: block {block} has no partial results; start a fresh run")
        yield block, blob


@dataclass(frozen=True)
class Lists:
    """Ranked lists of one direction, ready to write: per owner, the other side's ids, scores and
    overqualification (JSON text), and how many entries in all."""

    rows: list[tuple[object, ...]]
    n_entries: int


def list_rows(
    run_id: int,
    direction: str,
    owner_ids: np.ndarray,
    other_ids: np.ndarray,
    scores: np.ndarray,
    overq: np.ndarray,
) -> Lists:
    """``ranking_lists`` rows for owner × k arrays (padding -1 left out; an owner with an empty list gets an
    empty row, so "no match" is stored as such)."""
    valid = other_ids >= 0
    lengths = valid.sum(axis=1).tolist() if other_ids.ndim == 2 else []
    ids, sc, ov = (
        other_ids.tolist(),
        np.round(scores.astype(np.float64), 6).tolist(),
        np.round(overq.astype(np.float64), 4).tolist(),
    )
    # orjson: ~20x faster than json.dumps on these short lists, which at 10k x 2k were a tenth of the run
    rows: list[tuple[object, ...]] = []
    dumps = orjson.dumps
    for owner, n, i, s, o in zip(owner_ids.tolist(), lengths, ids, sc, ov, strict=True):
        rows.append(
            (run_id, direction, owner, dumps(i[:n]).decode(), dumps(s[:n]).decode(), dumps(o[:n]).decode())
        )
    return Lists(rows, int(sum(lengths)))


def insert_lists(session: Session, lists: Lists) -> None:
    """Bulk insert through the driver's executemany with pre-serialised JSON (the ORM would serialise per row)."""
    if not lists.rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    cast = "::json" if dialect.name == "postgresql" else ""
    sql = (
        "INSERT INTO ranking_lists (run_id, direction, owner_id, ids, scores, overqualification) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}{cast}, {mark}{cast}, {mark}{cast})"
    )
    conn.exec_driver_sql(sql, lists.rows)


def commit_block(session: Session, run_id: int, block: int, lists: Lists, partial: bytes) -> None:
    """Write one block's per-citizen lists, its checkpoint and the progress; the caller commits (one
    transaction)."""
    insert_lists(session, lists)
    session.execute(
        insert(RankingBlockRow).values(
            run_id=run_id, block=block, n_results=lists.n_entries, partial=partial, done_at=utcnow()
        )
    )
    session.execute(
        update(RankingRunRow)
        .where(RankingRunRow.id == run_id)
        .values(
            blocks_done=RankingRunRow.blocks_done + 1,
            n_results=RankingRunRow.n_results + lists.n_entries,
            heartbeat_at=utcnow(),
        )
    )


def finish(
    session: Session, run_id: int, needs: Lists, plan: Sequence[dict[str, object]], report: dict[str, object]
) -> None:
    """Write the per-need lists and the plan, mark the run completed and drop the partials (one transaction, so
    a kill here leaves the run resumable with every block done). ``n_results``: list entries both ways.

    The run row is locked first and must still be running with every block checkpointed: a GDPR erase while
    the run was computing invalidates it (see ``CitizenRepository.erase``), and its results must not land."""
    state = session.execute(
        select(RankingRunRow.status, RankingRunRow.blocks_total).where(RankingRunRow.id == run_id).with_for_update()
    ).one_or_none()
    n_blocks = session.scalar(select(func.count()).select_from(RankingBlockRow).where(RankingBlockRow.run_id == run_id))
    if state is None or state.status != RUNNING or n_blocks != state.blocks_total:
        raise RuntimeError(
            f"ranking run {run_id} was invalidated while it ran (e.g. by a GDPR erase); start a fresh run"
        )
    session.execute(delete(RankingListRow).where(RankingListRow.run_id == run_id, RankingListRow.direction == "need"))
    session.execute(delete(RankingResultRow).where(RankingResultRow.run_id == run_id))
    insert_lists(session, needs)
    if plan:
        session.execute(insert(RankingResultRow), list(plan))
    n_citizen_entries = session.scalar(
        select(func.coalesce(func.sum(RankingBlockRow.n_results), 0)).where(RankingBlockRow.run_id == run_id)
    )
    session.execute(update(RankingBlockRow).where(RankingBlockRow.run_id == run_id).values(partial=None))
    session.execute(
        update(RankingRunRow)
        .where(RankingRunRow.id == run_id)
        .values(
            status=COMPLETED,
            finished_at=utcnow(),
            heartbeat_at=utcnow(),
            n_results=int(n_citizen_entries or 0) + needs.n_entries,
            report=json.loads(json.dumps(report)),
            error=None,
        )
    )


def mark_failed(session: Session, run_id: int, error: str) -> None:
    session.execute(
        update(RankingRunRow)
        .where(RankingRunRow.id == run_id, RankingRunRow.status == RUNNING)
        .values(status=FAILED, error=error[:2000], finished_at=utcnow())
    )


def prune(session: Session, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete runs older than the retention (their results cascade), never the latest completed one nor a
    running one. Returns how many runs were deleted."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    keep = latest_completed(session)
    query = select(RankingRunRow.id).where(RankingRunRow.created_at < cutoff, RankingRunRow.status != RUNNING)
    if keep is not None:
        query = query.where(RankingRunRow.id != keep.id)
    ids = list(session.scalars(query))
    if ids:
        # explicit deletes: SQLite only cascades with foreign keys on, and bulk deletes bypass ORM cascades
        session.execute(delete(RankingResultRow).where(RankingResultRow.run_id.in_(ids)))
        session.execute(delete(RankingListRow).where(RankingListRow.run_id.in_(ids)))
        session.execute(delete(RankingBlockRow).where(RankingBlockRow.run_id.in_(ids)))
        session.execute(delete(RankingRunRow).where(RankingRunRow.id.in_(ids)))
        log.info("pruned %d ranking runs older than %d days", len(ids), retention_days)
    return len(ids)
