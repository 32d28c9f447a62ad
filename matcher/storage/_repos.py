"""Repositories: plain classes over a :class:`~sqlalchemy.orm.Session`, one per aggregate.

They speak domain models (Citizen, Vacancy, Employer) on the way in and rows on the way out, never commit (the
caller owns the transaction, so a request's write and its audit record land together or not at all), and raise
:class:`NotFoundError` / :class:`ConflictError` naming the resource and the field — the API maps those to 404 /
409 without parsing messages. Every write the match index depends on (citizens, needs, pin/hide overrides) also
appends to the index change feed (matcher/storage/_changes.py), last, so no writer can forget it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from matcher.domain import Citizen, Employer, FeedbackKind, Vacancy
from matcher.storage._changes import CITIZEN, NEED, OVERRIDES, record_change
from matcher.storage._tables import (
    AUDIT_BUCKET_ROWS,
    RUN_COMPLETED,
    RUN_FAILED,
    ApiKeyRow,
    AuditRow,
    AuditStagingRow,
    Base,
    CitizenAuditAttributesRow,
    CitizenRow,
    EmployerRow,
    FeedbackRow,
    NeedRow,
    RankingBlockRow,
    RankingListRow,
    RankingResultRow,
    RankingRunRow,
    ServiceMetaRow,
    utcnow,
)

ROLES: tuple[str, ...] = ("admin", "consultant", "employer")
_CHUNK = 500  # ids per IN (...) clause: well below SQLite's bound-parameter limit
MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL; a larger one cannot exist (and would overflow the driver)


class NotFoundError(LookupError):
    """A referenced row does not exist. ``resource`` is e.g. 'citizen', ``field`` the input field that named it."""

    def __init__(self, resource: str, ident: object, field: str | None = None) -> None:
        super().__init__(f"{resource} {ident} not found")
        self.resource = resource
        self.ident = ident
        self.field = field or f"{resource}_id"


class ConflictError(ValueError):
    """A write would break a uniqueness rule, e.g. a second citizen with the same external_ref."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _storable(ident: int) -> bool:
    return 0 < ident <= MAX_ID


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------------------------- employers


class EmployerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, employer: Employer) -> EmployerRow:
        row = EmployerRow(**employer.model_dump(mode="json"))
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, employer_id: int) -> EmployerRow:
        row = self.session.get(EmployerRow, employer_id) if _storable(employer_id) else None
        if row is None:
            raise NotFoundError("employer", employer_id)
        return row

    def exists(self, employer_id: int) -> bool:
        return _storable(employer_id) and self.session.get(EmployerRow, employer_id) is not None

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = sorted(i for i in set(ids) if _storable(i))
        found: set[int] = set()
        for chunk in _chunks(wanted):
            found.update(self.session.scalars(select(EmployerRow.id).where(EmployerRow.id.in_(chunk))))
        return found

    def replace(self, employer_id: int, employer: Employer) -> EmployerRow:
        row = self.get(employer_id)
        for key, value in employer.model_dump(mode="json").items():
            setattr(row, key, value)
        self.session.flush()
        return row

    def page(self, limit: int, offset: int) -> tuple[list[EmployerRow], int]:
        total = self.session.scalar(select(func.count()).select_from(EmployerRow)) or 0
        rows = self.session.scalars(select(EmployerRow).order_by(EmployerRow.id).limit(limit).offset(offset))
        return list(rows), total

    def all(self) -> Iterator[EmployerRow]:
        yield from self.session.scalars(select(EmployerRow).order_by(EmployerRow.id).execution_options(yield_per=1000))


# --------------------------------------------------------------------------------------------- citizens


def citizen_columns(citizen: Citizen) -> dict[str, Any]:
    """The row values of a validated profile: the indexed columns and the JSON document."""
    return {
        "external_ref": citizen.external_ref,
        "target_group": citizen.target_group.value,
        "postcode": citizen.postcode,
        "consent_share_with_employers": citizen.consent_share_with_employers,
        "profile": citizen.model_dump(mode="json", exclude_none=True),
    }


class CitizenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _check_ref_free(self, external_ref: str, except_id: int | None = None) -> None:
        query = select(CitizenRow.id).where(CitizenRow.external_ref == external_ref)
        if except_id is not None:
            query = query.where(CitizenRow.id != except_id)
        if self.session.scalar(query) is not None:
            raise ConflictError("external_ref", f"a citizen with external_ref '{external_ref}' already exists")

    def add(self, citizen: Citizen) -> CitizenRow:
        self._check_ref_free(citizen.external_ref)
        now = utcnow()
        row = CitizenRow(**citizen_columns(citizen), created_at=now, updated_at=now)
        self.session.add(row)
        self.session.flush()
        record_change(self.session, CITIZEN, [row.id])
        return row

    def taken_refs(self, refs: Sequence[str]) -> set[str]:
        """Which of ``refs`` are already stored (for bulk imports, which check before writing)."""
        taken: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(refs))):
            taken.update(self.session.scalars(select(CitizenRow.external_ref).where(CitizenRow.external_ref.in_(chunk))))
        return taken

    def add_many(self, citizens: Sequence[Citizen]) -> list[int]:
        """Insert all profiles in one multi-row statement per batch; ids come back in input order."""
        if not citizens:
            return []
        now = utcnow()
        values = [{**citizen_columns(c), "created_at": now, "updated_at": now} for c in citizens]
        table = Base.metadata.tables[CitizenRow.__tablename__]  # Core insert: no ORM bookkeeping per row
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), values)
        ids = list(result.scalars())
        record_change(self.session, CITIZEN, ids)
        return ids

    def get(self, citizen_id: int) -> CitizenRow:
        row = self.session.get(CitizenRow, citizen_id) if _storable(citizen_id) else None
        if row is None:
            raise NotFoundError("citizen", citizen_id)
        return row

    def exists(self, citizen_id: int) -> bool:
        return _storable(citizen_id) and self.session.get(CitizenRow, citizen_id) is not None

    def replace(self, citizen_id: int, citizen: Citizen) -> CitizenRow:
        row = self.get(citizen_id)
        self._check_ref_free(citizen.external_ref, except_id=citizen_id)
        for key, value in citizen_columns(citizen).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        record_change(self.session, CITIZEN, [citizen_id])
        return row

    def erase(self, citizen_id: int) -> None:
        """Delete the profile and everything keyed on it (feedback, ranking results). The audit log is scrubbed
        separately by :meth:`AuditRepository.pseudonymise` in the same transaction."""
        self.get(citizen_id)
        self.session.execute(delete(FeedbackRow).where(FeedbackRow.citizen_id == citizen_id))
        self.session.execute(delete(RankingResultRow).where(RankingResultRow.citizen_id == citizen_id))
        self._scrub_ranking_lists(citizen_id)
        self.session.execute(delete(CitizenRow).where(CitizenRow.id == citizen_id))
        record_change(self.session, CITIZEN, [citizen_id])

    def _scrub_ranking_lists(self, citizen_id: int) -> None:
        """Remove the citizen from every stored ranking run: their own lists go, and they are cut out of the
        needs' lists. Unfinished runs hold the citizen in binary block checkpoints; those runs are invalidated
        (checkpoints deleted, status failed) — the next run starts fresh, without the citizen."""
        self.session.execute(
            delete(RankingListRow).where(
                RankingListRow.direction == "citizen", RankingListRow.owner_id == citizen_id
            )
        )
        # Pre-filter on the JSON text (portable across SQLite and PostgreSQL), then check exactly in Python.
        candidates = self.session.scalars(
            select(RankingListRow).where(
                RankingListRow.direction == "need",
                cast(RankingListRow.ids, String).like(f"%{citizen_id}%"),
            )
        )
        for row in candidates:
            keep = [i for i, cid in enumerate(row.ids) if cid != citizen_id]
            if len(keep) != len(row.ids):
                row.ids = [row.ids[i] for i in keep]
                row.scores = [row.scores[i] for i in keep]
                row.overqualification = [row.overqualification[i] for i in keep]
        unfinished = select(RankingRunRow.id).where(RankingRunRow.status != RUN_COMPLETED)
        self.session.execute(delete(RankingBlockRow).where(RankingBlockRow.run_id.in_(unfinished)))
        self.session.execute(
            update(RankingRunRow)
            .where(RankingRunRow.status != RUN_COMPLETED)
            .values(status=RUN_FAILED, blocks_done=0, error="invalidated by a GDPR erase; start a fresh run")
        )
        self.session.flush()

    def page(self, limit: int, offset: int, target_group: str | None = None) -> tuple[list[CitizenRow], int]:
        count = select(func.count()).select_from(CitizenRow)
        query = select(CitizenRow).order_by(CitizenRow.id)
        if target_group is not None:
            count = count.where(CitizenRow.target_group == target_group)
            query = query.where(CitizenRow.target_group == target_group)
        total = self.session.scalar(count) or 0
        return list(self.session.scalars(query.limit(limit).offset(offset))), total

    def all(self) -> Iterator[CitizenRow]:
        yield from self.session.scalars(select(CitizenRow).order_by(CitizenRow.id).execution_options(yield_per=1000))

    def profiles(self) -> Iterator[tuple[int, Citizen]]:
        """Every stored profile as (id, Citizen), for building the in-memory index."""
        for row in self.all():
            yield row.id, Citizen.model_validate(row.profile)

    def profiles_of(self, ids: Iterable[int]) -> dict[int, Citizen]:
        """The stored profiles among ``ids`` (an id not stored is absent), for updating the index."""
        found: dict[int, Citizen] = {}
        for chunk in _chunks(sorted({i for i in ids if _storable(i)})):
            rows = self.session.execute(select(CitizenRow.id, CitizenRow.profile).where(CitizenRow.id.in_(chunk)))
            found.update((cid, Citizen.model_validate(profile)) for cid, profile in rows)
        return found


# --------------------------------------------------------------------------------------------- audit attributes


AUDIT_ATTRIBUTE_FIELDS: tuple[str, ...] = ("gender", "birth_year", "origin_country")


class AuditAttributesRepository:
    """Protected attributes (gender, birth year, origin country) held for fairness audits only.

    They live in ``citizen_audit_attributes``, which the engine, the nightly batch and every employer-facing route
    never read, so they cannot reach a score or a model input. The row goes with the citizen (the foreign key
    cascades on a GDPR erase). Values are validated by the caller (the API schema); ``None`` means not supplied.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, citizen_id: int) -> CitizenAuditAttributesRow | None:
        """The stored attributes, or None when none are held. NotFoundError when the citizen does not exist."""
        CitizenRepository(self.session).get(citizen_id)
        return self.session.get(CitizenAuditAttributesRow, citizen_id)

    def put(
        self, citizen_id: int, gender: str | None, birth_year: int | None, origin_country: str | None
    ) -> CitizenAuditAttributesRow | None:
        """Replace the attributes. All three None deletes the row (nothing held is better than a row of nulls);
        returns the stored row, or None after such a delete."""
        row = self.get(citizen_id)
        if gender is None and birth_year is None and origin_country is None:
            if row is not None:
                self.session.delete(row)
                self.session.flush()
            return None
        if row is None:
            row = CitizenAuditAttributesRow(citizen_id=citizen_id)
            self.session.add(row)
        row.gender, row.birth_year, row.origin_country = gender, birth_year, origin_country
        row.updated_at = utcnow()
        self.session.flush()
        return row

    def add_many(self, items: Sequence[tuple[int, dict[str, Any]]]) -> int:
        """Insert attributes of citizens that have none yet, e.g. right after a bulk load of synthetic data:
        (citizen id, {gender, birth_year, origin_country}) each. Returns the number of rows written."""
        if not items:
            return 0
        now = utcnow()
        values = [
            {"citizen_id": cid, **{f: attrs.get(f) for f in AUDIT_ATTRIBUTE_FIELDS}, "updated_at": now}
            for cid, attrs in items
        ]
        self.session.execute(insert(Base.metadata.tables[CitizenAuditAttributesRow.__tablename__]), values)
        return len(values)

    def all(self) -> list[tuple[int, str | None, int | None, str | None]]:
        """(citizen id, gender, birth year, origin country) of every citizen with attributes, by citizen id."""
        query = select(
            CitizenAuditAttributesRow.citizen_id,
            CitizenAuditAttributesRow.gender,
            CitizenAuditAttributesRow.birth_year,
            CitizenAuditAttributesRow.origin_country,
        ).order_by(CitizenAuditAttributesRow.citizen_id)
        return [(int(c), g, b, o) for c, g, b, o in self.session.execute(query)]


# --------------------------------------------------------------------------------------------- needs


def need_columns(vacancy: Vacancy) -> dict[str, Any]:
    return {
        "employer_id": vacancy.employer_id,
        "kind": vacancy.kind.value,
        "title": vacancy.title,
        "postcode": vacancy.postcode,
        "positions": vacancy.positions,
        "expires": vacancy.expires,
        "document": vacancy.model_dump(mode="json", exclude_none=True),
    }


class NeedRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, vacancy: Vacancy) -> NeedRow:
        if not EmployerRepository(self.session).exists(vacancy.employer_id):
            raise NotFoundError("employer", vacancy.employer_id)
        now = utcnow()
        row = NeedRow(**need_columns(vacancy), created_at=now, updated_at=now)
        self.session.add(row)
        self.session.flush()
        record_change(self.session, NEED, [row.id])
        return row

    def add_many(self, vacancies: Sequence[Vacancy]) -> list[int]:
        if not vacancies:
            return []
        now = utcnow()
        values = [{**need_columns(v), "created_at": now, "updated_at": now} for v in vacancies]
        table = Base.metadata.tables[NeedRow.__tablename__]
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), values)
        ids = list(result.scalars())
        record_change(self.session, NEED, ids)
        return ids

    def get(self, need_id: int) -> NeedRow:
        row = self.session.get(NeedRow, need_id) if _storable(need_id) else None
        if row is None:
            raise NotFoundError("vacancy", need_id)
        return row

    def replace(self, need_id: int, vacancy: Vacancy) -> NeedRow:
        row = self.get(need_id)
        if vacancy.employer_id != row.employer_id and not EmployerRepository(self.session).exists(
            vacancy.employer_id
        ):
            raise NotFoundError("employer", vacancy.employer_id)
        for key, value in need_columns(vacancy).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self.session.flush()
        record_change(self.session, NEED, [need_id])
        return row

    def delete(self, need_id: int) -> None:
        self.get(need_id)
        self.session.execute(delete(FeedbackRow).where(FeedbackRow.need_id == need_id))
        self.session.execute(delete(RankingResultRow).where(RankingResultRow.need_id == need_id))
        self.session.execute(delete(NeedRow).where(NeedRow.id == need_id))
        record_change(self.session, NEED, [need_id])

    def page_for_employer(self, employer_id: int, limit: int, offset: int) -> tuple[list[NeedRow], int]:
        where = NeedRow.employer_id == employer_id
        total = self.session.scalar(select(func.count()).select_from(NeedRow).where(where)) or 0
        rows = self.session.scalars(select(NeedRow).where(where).order_by(NeedRow.id).limit(limit).offset(offset))
        return list(rows), total

    def all(self) -> Iterator[NeedRow]:
        yield from self.session.scalars(select(NeedRow).order_by(NeedRow.id).execution_options(yield_per=1000))

    def vacancies(self) -> Iterator[tuple[int, Vacancy]]:
        for row in self.all():
            yield row.id, Vacancy.model_validate(row.document)

    def vacancies_of(self, ids: Iterable[int]) -> dict[int, Vacancy]:
        """The stored needs among ``ids`` (an id not stored is absent), for updating the index."""
        found: dict[int, Vacancy] = {}
        for chunk in _chunks(sorted({i for i in ids if _storable(i)})):
            rows = self.session.execute(select(NeedRow.id, NeedRow.document).where(NeedRow.id.in_(chunk)))
            found.update((nid, Vacancy.model_validate(document)) for nid, document in rows)
        return found


# --------------------------------------------------------------------------------------------- feedback


OVERRIDE_KINDS = (FeedbackKind.pinned.value, FeedbackKind.hidden.value)


class FeedbackRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        citizen_id: int,
        need_id: int,
        kind: FeedbackKind,
        reason: str | None,
        key_id: int | None,
        snapshot: dict[str, Any] | None = None,
    ) -> FeedbackRow:
        """Record feedback; ``snapshot`` is what the engine scored for the pair at this moment (a training row
        of the re-ranker, see matcher.ranking.make_snapshot)."""
        CitizenRepository(self.session).get(citizen_id)
        NeedRepository(self.session).get(need_id)
        row = FeedbackRow(
            citizen_id=citizen_id,
            need_id=need_id,
            kind=kind.value,
            reason=reason,
            key_id=key_id,
            created_at=utcnow(),
            snapshot=snapshot,
        )
        self.session.add(row)
        self.session.flush()
        if kind.value in OVERRIDE_KINDS:
            record_change(self.session, OVERRIDES)
        return row

    def for_citizen(self, citizen_id: int) -> list[FeedbackRow]:
        query = select(FeedbackRow).where(FeedbackRow.citizen_id == citizen_id).order_by(FeedbackRow.id)
        return list(self.session.scalars(query))

    def labelled_pairs(self, label_kinds: Collection[str]) -> list[tuple[int, int, str, dict[str, Any] | None]]:
        """(citizen id, need id, label kind, snapshot) per pair with feedback of a ``label_kinds`` kind: the
        latest such kind (a later 'rejected' overrides an 'interviewed'), and the earliest snapshot stored for the
        pair under any kind (None when there is none). Erased citizens' feedback is gone with them."""
        query = (
            select(FeedbackRow.citizen_id, FeedbackRow.need_id, FeedbackRow.kind, FeedbackRow.snapshot)
            .order_by(FeedbackRow.id)
            .execution_options(yield_per=2000)
        )
        label: dict[tuple[int, int], str] = {}
        first: dict[tuple[int, int], dict[str, Any]] = {}
        for citizen_id, need_id, kind, snapshot in self.session.execute(query):
            pair = (citizen_id, need_id)
            if kind in label_kinds:
                label[pair] = kind
            if snapshot is not None and pair not in first:
                first[pair] = snapshot
        return [(c, n, kind, first.get((c, n))) for (c, n), kind in sorted(label.items())]

    def overrides(self) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
        """(pinned, hidden) pairs. The latest pin/hide of a pair wins, so a consultant can undo one with the
        other."""
        query = (
            select(FeedbackRow.citizen_id, FeedbackRow.need_id, FeedbackRow.kind)
            .where(FeedbackRow.kind.in_(OVERRIDE_KINDS))
            .order_by(FeedbackRow.id)
        )
        latest: dict[tuple[int, int], str] = {}
        for citizen_id, need_id, kind in self.session.execute(query):
            latest[(citizen_id, need_id)] = kind
        pinned = {pair for pair, kind in latest.items() if kind == FeedbackKind.pinned.value}
        hidden = {pair for pair, kind in latest.items() if kind == FeedbackKind.hidden.value}
        return pinned, hidden


# --------------------------------------------------------------------------------------------- API keys


def hash_key(key: str) -> str:
    """sha256 hex of a key. Keys are 256-bit random tokens, so a fast unsalted hash is enough: there is nothing
    to brute-force, and a lookup by hash needs a deterministic function."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, role: str, employer_id: int | None = None, label: str | None = None) -> tuple[ApiKeyRow, str]:
        """Store a new key's hash; return the row and the key itself (shown once, never stored)."""
        if role not in ROLES:
            raise ValueError(f"role: must be one of {', '.join(ROLES)}, not '{role}'")
        if role == "employer":
            if employer_id is None:
                raise ValueError("employer_id: an employer key needs --employer-id")
            EmployerRepository(self.session).get(employer_id)
        elif employer_id is not None:
            raise ValueError(f"employer_id: only employer keys belong to an employer, not {role} keys")
        key = secrets.token_urlsafe(32)
        row = ApiKeyRow(role=role, employer_id=employer_id, key_hash=hash_key(key), label=label, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row, key

    def authenticate(self, key: str) -> ApiKeyRow | None:
        """The live (not revoked) key with this value, else None."""
        row = self.session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(key)))
        if row is None or row.revoked_at is not None:
            return None
        return row

    def list(self) -> list[ApiKeyRow]:
        return list(self.session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)))

    def revoke(self, key_id: int) -> ApiKeyRow:
        row = self.session.get(ApiKeyRow, key_id) if _storable(key_id) else None
        if row is None:
            raise NotFoundError("api key", key_id, field="key_id")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            self.session.flush()
        return row


# --------------------------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class AuditEntry:
    """One event to record; the key and purpose come from the request."""

    action: str
    subject_type: str
    subject_id: str | int
    details: dict[str, Any] | None = None


_AUDIT_COLUMNS = "at, key_id, action, purpose, subject_type, subject_id, details"


def move_staged_audit(conn: Connection) -> int:
    """Move every committed entry of ``audit_staging`` into ``audit_log``, in the order they were staged, inside
    the caller's transaction; returns how many moved. See :class:`AuditStagingRow` for why there are two tables
    (and for the rows that stand for several entries: one ``audit_log`` row per subject, in their order).

    PostgreSQL: one ``DELETE … RETURNING`` feeding the insert, so an entry committed concurrently is either moved
    or left for the next call, never deleted unmoved. SQLite: the transaction holds the database's write lock
    (``BEGIN IMMEDIATE``), so nothing can be staged between the copy and the delete.
    """
    staging, log_ = AuditStagingRow.__tablename__, AuditRow.__tablename__
    columns = "s.at, s.key_id, s.action, s.purpose, s.subject_type, COALESCE(j.value, s.subject_id), s.details"
    if conn.dialect.name == "postgresql":
        result = conn.exec_driver_sql(
            f"WITH s AS (DELETE FROM {staging} RETURNING id, subjects, {_AUDIT_COLUMNS}) "
            f"INSERT INTO {log_} ({_AUDIT_COLUMNS}) SELECT {columns} FROM s "
            "LEFT JOIN LATERAL json_array_elements_text(s.subjects) WITH ORDINALITY AS j(value, n) ON true "
            "ORDER BY s.id, j.n"
        )
        return int(result.rowcount or 0)
    last = conn.exec_driver_sql(f"SELECT max(id) FROM {staging}").scalar()
    if last is None:
        return 0
    moved = conn.exec_driver_sql(
        f"INSERT INTO {log_} ({_AUDIT_COLUMNS}) SELECT {columns} FROM {staging} AS s "
        "LEFT JOIN json_each(s.subjects) AS j WHERE s.id <= ? ORDER BY s.id, j.key",
        (last,),
    )
    conn.exec_driver_sql(f"DELETE FROM {staging} WHERE id <= ?", (last,))
    return int(moved.rowcount or 0)


class AuditRepository:
    """The audit log. Reads (and erasures) first move the entries the read-audit writer staged (see
    :func:`move_staged_audit`), so they see every committed entry. Entries are listed in time order (``at``, then
    id): a staged entry gets its id when it moves, after entries written directly at a later time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _move_staged(self) -> None:
        move_staged_audit(self.session.connection())

    def record(self, key_id: int | None, purpose: str, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        now = utcnow()
        self.session.execute(
            insert(Base.metadata.tables[AuditRow.__tablename__]),
            [
                {
                    "at": now,
                    "key_id": key_id,
                    "action": e.action,
                    "purpose": purpose,
                    "subject_type": e.subject_type,
                    "subject_id": str(e.subject_id),
                    "details": e.details or {},
                }
                for e in entries
            ],
        )

    def _about(self, subject_type: str, subject_id: str | int) -> ColumnElement[bool]:
        """The entries about one subject, as a condition the subject index answers with one probe per bucket of
        ids (see :class:`AuditRow` for why it is bucketed): the buckets come from a recursive CTE, and
        ``bucket IN (…)`` on the index's leading column followed by equalities on the others is a series of
        index searches on both backends (the bucket expression is written as the index writes it, so the
        planners match it)."""
        last = self.session.scalar(select(func.max(AuditRow.id)))
        if last is None:
            return false()
        start = select(literal(0, Integer).label("n")).cte("audit_buckets", recursive=True)
        buckets = start.union_all(select(start.c.n + 1).where(start.c.n < last // AUDIT_BUCKET_ROWS))
        bucket = literal_column(f"{AuditRow.__tablename__}.id / {AUDIT_BUCKET_ROWS}", Integer)
        return and_(
            bucket.in_(select(buckets.c.n)),
            AuditRow.subject_type == subject_type,
            AuditRow.subject_id == str(subject_id),
        )

    def about(self, subject_type: str, subject_id: str | int) -> list[AuditRow]:
        self._move_staged()
        query = select(AuditRow).where(self._about(subject_type, subject_id)).order_by(AuditRow.at, AuditRow.id)
        return list(self.session.scalars(query))

    def since(self, since: dt.datetime | None = None) -> Iterator[AuditRow]:
        self._move_staged()
        query = select(AuditRow).order_by(AuditRow.at, AuditRow.id).execution_options(yield_per=1000)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        yield from self.session.scalars(query)

    def pseudonymise(self, subject_type: str, subject_id: str | int, pseudonym: str) -> int:
        """Replace the subject of every earlier entry about it by ``pseudonym``; returns the number of rows."""
        self._move_staged()
        result = self.session.execute(
            update(AuditRow).where(self._about(subject_type, subject_id)).values(subject_id=pseudonym)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------------------------- service meta


class MetaRepository:
    """Per-database secrets and facts. The pseudonym salt lives with the data it protects, so a copied database
    keeps consistent pseudonyms; it is never returned by the API."""

    SALT_KEY = "pseudonym_salt"

    def __init__(self, session: Session) -> None:
        self.session = session

    def salt(self) -> bytes:
        row = self.session.get(ServiceMetaRow, self.SALT_KEY)
        if row is None:
            row = ServiceMetaRow(key=self.SALT_KEY, value=secrets.token_hex(32))
            self.session.add(row)
            self.session.flush()
        return bytes.fromhex(row.value)


def pseudonym(salt: bytes, subject_type: str, subject_id: str | int) -> str:
    """A stable, non-reversible stand-in for a subject id (HMAC-SHA256 with the database's salt)."""
    digest = hmac.new(salt, f"{subject_type}:{subject_id}".encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:40]}"
