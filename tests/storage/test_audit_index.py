"""The audit log's subject index leads with the bucket of the row's id (see AuditRow): a subject's entries are
found in every bucket, and the lookups use that index on both backends."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from matcher.storage import AuditRepository, AuditRow, transaction
from matcher.storage._tables import AUDIT_BUCKET_ROWS

B = AUDIT_BUCKET_ROWS
# ids of the subject's entries: first and last of a bucket, a bucket boundary, far buckets, the last row
SUBJECT_IDS = [1, B - 1, B, 2 * B + 5, 5 * B + 7, 9 * B]
OTHER_IDS = [2, B + 1, 3 * B, 5 * B + 8, 9 * B - 1, 9 * B + 1]  # other subjects in the same buckets, and after


def _fill(session) -> None:
    start = dt.datetime(2026, 11, 1, 8, 0, 0, tzinfo=dt.UTC)
    rows = [
        {
            "id": i,
            "at": start + dt.timedelta(seconds=i),
            "key_id": 1,
            "action": "citizen.read",
            "purpose": "test",
            "subject_type": "citizen",
            "subject_id": "7" if i in SUBJECT_IDS else "8",
            "details": {},
        }
        for i in sorted(SUBJECT_IDS + OTHER_IDS)
    ]
    rows.append({**rows[0], "id": 4 * B, "subject_type": "need", "subject_id": "7"})  # same id, other type
    session.execute(insert(AuditRow), rows)


def test_about_finds_the_subject_in_every_bucket(factory) -> None:
    with transaction(factory) as session:
        _fill(session)
    with transaction(factory) as session:
        found = AuditRepository(session).about("citizen", 7)
    assert [row.id for row in found] == SUBJECT_IDS


def test_pseudonymise_reaches_every_bucket_and_nothing_else(factory) -> None:
    with transaction(factory) as session:
        _fill(session)
    with transaction(factory) as session:
        assert AuditRepository(session).pseudonymise("citizen", 7, "erased:x") == len(SUBJECT_IDS)
    with transaction(factory) as session:
        subjects = {i: s for i, s in session.execute(select(AuditRow.id, AuditRow.subject_id))}
        assert AuditRepository(session).about("citizen", 7) == []
    assert {i for i, s in subjects.items() if s == "erased:x"} == set(SUBJECT_IDS)
    assert subjects[4 * B] == "7"  # the need with the same id keeps it


def test_empty_log_has_nothing_about_anyone(factory) -> None:
    with transaction(factory) as session:
        assert AuditRepository(session).about("citizen", 7) == []
        assert AuditRepository(session).pseudonymise("citizen", 7, "erased:x") == 0


def test_lookups_search_the_bucketed_index(factory) -> None:
    """Both lookups seek the index on all three of its columns (a mismatch of the bucket expression, or of its
    type affinity on SQLite, silently turns them into scans of the whole log)."""
    with transaction(factory) as session:
        _fill(session)
        postgres = session.bind.dialect.name == "postgresql"
        if postgres:  # PostgreSQL plans by its statistics: give it a log of some size (200k rows, 13 buckets)
            session.execute(
                text(
                    "INSERT INTO audit_log (id, at, key_id, action, purpose, subject_type, subject_id, details) "
                    "SELECT g, now(), 1, 'citizen.read', 'test', 'citizen', (g % 9973)::text, '{}' "
                    f"FROM generate_series({10 * B}, {10 * B + 200_000}) AS g"
                )
            )
    with transaction(factory) as session:
        if postgres:
            session.execute(text("ANALYZE audit_log"))
        condition = AuditRepository(session)._about("citizen", 7)
        statements = [select(AuditRow).where(condition), update(AuditRow).where(condition).values(subject_id="x")]
        for statement in statements:
            if not postgres:
                compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
                plan = " | ".join(str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
                assert re.search(SQLITE_SEEK, plan), plan
            else:
                compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
                plan = "\n".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))
                assert re.search(POSTGRES_SEEK, plan), plan


SQLITE_SEEK = (
    r"SEARCH audit_log USING (COVERING )?INDEX ix_audit_log_bucket_subject "
    r"\(<expr>=\? AND subject_type=\? AND subject_id=\?\)"
)
POSTGRES_SEEK = (
    r"Index (Only )?Scan using ix_audit_log_bucket_subject on audit_log.*\n\s*Index Cond: \(\(\(id / 16384\) = "
    r".*subject_type.*subject_id"
)
