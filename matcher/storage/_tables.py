"""SQLAlchemy 2 tables of the service.

Why profiles and needs are JSON documents plus a few columns: a citizen's skill claims, occupations,
qualifications and languages (and a need's skills, language requirements and hybrid details) are always read and
written as a whole — the engine scores the whole profile, the API returns the whole profile — and their shape is
the pydantic domain model, which already validates them. Normalising them into a dozen child tables would buy
joins nobody queries and a second schema to keep in step with the JSON contract. The columns next to the document
are the ones we filter, join or enforce constraints on (external_ref unique, target_group, postcode, consent,
employer FK, kind, expiry). The document is always written from the validated model, so the columns and the
document cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones and hands back naive datetimes; this type stores UTC and always returns an aware
    value, so comparisons and JSON output are the same on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmployerRow(TimestampMixin, Base):
    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    # Not unique: one company (CVR) may register several workplaces (production units) with the job centre.
    cvr: Mapped[str] = mapped_column(String(8), index=True)
    postcode: Mapped[str] = mapped_column(String(4))
    industry: Mapped[str | None] = mapped_column(String(500))


class CitizenRow(TimestampMixin, Base):
    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(500), unique=True)
    target_group: Mapped[str] = mapped_column(String(40), index=True)
    postcode: Mapped[str | None] = mapped_column(String(4), index=True)
    consent_share_with_employers: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(comment="the validated Citizen model as JSON")


class NeedRow(TimestampMixin, Base):
    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(500))
    postcode: Mapped[str | None] = mapped_column(String(4))
    positions: Mapped[int] = mapped_column(Integer, default=1)
    expires: Mapped[dt.date | None] = mapped_column(index=True)
    document: Mapped[dict[str, Any]] = mapped_column(comment="the validated Vacancy model as JSON")


class FeedbackRow(Base):
    __tablename__ = "match_feedback"
    __table_args__ = (Index("ix_match_feedback_pair", "citizen_id", "need_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(),
        comment="what the engine scored for the pair when the feedback was given (components, total, gates, "
        "context): the re-ranker's training row, so later profile edits cannot leak the outcome back into it",
    )


class CitizenAuditAttributesRow(Base):
    """Protected attributes (gender, birth year, origin) held for fairness audits only.

    A separate table on purpose: the engine loads citizens from ``citizens.profile`` and never reads this table,
    so these values cannot reach a score or a model input. Erased with the citizen (cascade)."""

    __tablename__ = "citizen_audit_attributes"

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    gender: Mapped[str | None] = mapped_column(String(20))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    origin_country: Mapped[str | None] = mapped_column(String(2), comment="ISO 3166 alpha-2")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


RUN_RUNNING, RUN_COMPLETED, RUN_FAILED = "running", "completed", "failed"
"""``RankingRunRow.status`` values: the batch writes them, a GDPR erase invalidates unfinished runs."""


class RankingRunRow(Base):
    """One nightly ranking run (filled by the batch layer)."""

    __tablename__ = "ranking_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    n_citizens: Mapped[int] = mapped_column(Integer, default=0)
    n_needs: Mapped[int] = mapped_column(Integer, default=0)
    n_results: Mapped[int] = mapped_column(Integer, default=0)
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # added by the batch layer (revision 0002): what a resumed run must reuse, progress, and the plan's report
    data_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    model_version: Mapped[str] = mapped_column(String(200), default="", server_default="")
    top_k: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    as_of: Mapped[dt.date | None] = mapped_column(comment="the scoring date; a resumed run keeps it")
    block_size: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blocks_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blocks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner: Mapped[str | None] = mapped_column(String(200), comment="host:pid of the process running it")
    heartbeat_at: Mapped[dt.datetime | None]
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, comment="counts and the placement-plan report")


class RankingBlockRow(Base):
    """The checkpoint of one completed block of a run, written in the same transaction as the block's results.

    ``partial`` holds the block's top-k arrays (npz, no pickle) — per citizen of the block and, partially, per
    need — which the run merges when all blocks are done; it is cleared then.
    """

    __tablename__ = "ranking_blocks"

    run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id", ondelete="CASCADE"), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    n_results: Mapped[int] = mapped_column(Integer, default=0)
    partial: Mapped[bytes | None] = mapped_column(LargeBinary)
    done_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RankingResultRow(Base):
    """One ranked pair of a run; ``direction`` says which list it belongs to ('need' or 'citizen')."""

    __tablename__ = "ranking_results"
    __table_args__ = (
        Index("ix_ranking_results_run_need", "run_id", "need_id", "rank"),
        Index("ix_ranking_results_run_citizen", "run_id", "citizen_id", "rank"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]]
    gates: Mapped[list[Any]]
    assigned: Mapped[bool] = mapped_column(Boolean, default=False)


class RankingListRow(Base):
    """One ranked list of a run: a citizen's best needs (``direction`` 'citizen') or a need's best citizens
    ('need'), best first, as parallel JSON arrays. One row per list rather than per pair: a run writes
    (citizens + needs) × top_k entries, and per-pair rows made the writes the slowest part of the nightly run.
    The placement plan stays in ``ranking_results`` (direction 'plan')."""

    __tablename__ = "ranking_lists"

    run_id: Mapped[int] = mapped_column(ForeignKey("ranking_runs.id", ondelete="CASCADE"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="citizen id or need id")
    ids: Mapped[list[Any]] = mapped_column(comment="need ids (direction citizen) or citizen ids (direction need)")
    scores: Mapped[list[Any]]
    overqualification: Mapped[list[Any]]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id", ondelete="RESTRICT"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="sha256 hex of the key")
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class _AuditEntryColumns:
    """The columns of one audit entry besides its time, shared by the log and its staging table."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(String(200))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


AUDIT_BUCKET_ROWS = 16_384
"""Consecutive ``audit_log`` ids per bucket of its subject index (see :class:`AuditRow`). Changing it needs a
migration that rebuilds the index: the number is part of the index's expression."""

AUDIT_BUCKET = text(f"(id / {AUDIT_BUCKET_ROWS})")
"""The bucket of an ``audit_log`` row, as the subject index writes it (integer division on both backends)."""


class AuditRow(_AuditEntryColumns, Base):
    """One audited event. ``subject_id`` is the subject's id as text, or ``erased:<salted hash>`` after a GDPR
    erase, so the log proves what happened without keeping who it happened to.

    The subject index leads with the row's bucket (``id / AUDIT_BUCKET_ROWS``), then the subject. Why: the log is
    written all day, one entry per citizen listed, and read by subject only for a citizen's export or erasure. An
    index on the subject alone takes every new entry at a random place, so each move of staged entries (see
    :class:`AuditStagingRow`) dirtied nearly every leaf page of an index that grows without end: measured on
    SQLite with 1 M rows, moving 10,000 entries wrote ~5,700 pages to the WAL (~400 ms, ~250 ms CPU) against
    ~320 pages (~30 ms) without that index, and the service's p99 went from ~50 to 130–310 ms. With the bucket
    first, new entries land in the last one or two buckets' part of the index, whatever the log's size. A
    subject's entries are found by one index probe per bucket (``AuditRepository.about``):
    62 buckets at 1 M rows, ~2 ms.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_bucket_subject", AUDIT_BUCKET, "subject_type", "subject_id"),)

    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class AuditStagingRow(_AuditEntryColumns, Base):
    """Read-audit entries the service's group-commit writer has committed but not yet moved into ``audit_log``.

    Why: every listed citizen is one insert into ``audit_log``'s subject index, at a random place; with a growing
    log those inserts, a few dozen per search, dirtied pages all over the index and the service slowed down
    (SQLite, measured: ad hoc searches 311/s on an empty log, 263/s at 1 M rows, 330/s with the index dropped).
    This table has no secondary index, so the writer's commits stay cheap, and the rows move over in large
    batches (:func:`matcher.storage.move_staged_audit`), each leaf page of the index written once per batch.
    Every read of the audit log moves them first, so readers and erasures always see every entry. (The subject
    index now leads with the id's bucket, see :class:`AuditRow`, so a move no longer costs more as the log grows;
    staging still keeps the writer's commits to one unindexed row per search, off the request's path.)

    A row may stand for several entries that differ only in their subject: ``subjects`` then lists their subject
    ids in order (and ``subject_id`` is empty), and the move writes one ``audit_log`` row per subject. A search
    that lists 20 citizens stages one row, not 20: the writer's cost was mostly per row (measured alone: 143 µs
    to commit one entry, 332 µs for 20, 864 µs for 80).
    """

    __tablename__ = "audit_staging"

    at: Mapped[dt.datetime] = mapped_column()
    subjects: Mapped[list[str] | None] = mapped_column(
        JSON, nullable=True, comment="subject ids of the entries this row stands for (null: just subject_id)"
    )


class ServiceMetaRow(Base):
    """Small key/value facts about this database, e.g. the random salt of the audit pseudonyms."""

    __tablename__ = "service_meta"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IndexChangeRow(Base):
    """One committed write that the in-memory match index of every service process must follow: a citizen or a
    need added, replaced or removed (``entity_id``), or the pin/hide overrides changed (no id).

    Each process of ``matcher serve`` keeps its own index (see matcher/api/_follow.py). Repositories append a row
    in the same transaction as the write, so a row exists exactly when the write committed; ``seq`` orders the
    rows in commit order (SQLite serialises writers; on PostgreSQL the writer takes an advisory lock before it
    draws its ``seq``). Rows carry ids only, never personal data, and are pruned after a while
    (:meth:`matcher.storage.ChangeFeedRepository.prune`).
    """

    __tablename__ = "index_changes"
    # AUTOINCREMENT: SQLite never hands out a seq again once its row was pruned
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
