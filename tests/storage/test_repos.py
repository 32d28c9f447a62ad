"""Repositories round-trip domain models and enforce the rules the API relies on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from matcher.domain import FeedbackKind
from matcher.storage import (
    AuditEntry,
    AuditRepository,
    AuditRow,
    CitizenRepository,
    ConflictError,
    EmployerRepository,
    FeedbackRepository,
    FeedbackRow,
    KeyRepository,
    MetaRepository,
    NeedRepository,
    NotFoundError,
    pseudonym,
    transaction,
)
from tests.storage import _samples as s


def test_citizen_round_trip_and_unique_external_ref(factory) -> None:
    with transaction(factory) as session:
        row = CitizenRepository(session).add(s.citizen(1))
        cid = row.id
    with transaction(factory) as session:
        repo = CitizenRepository(session)
        back = dict(repo.profiles())[cid]
        assert back == s.citizen(1)
        assert repo.get(cid).target_group == "jobparat"
        assert repo.get(cid).created_at.tzinfo is not None
        with pytest.raises(ConflictError) as err:
            repo.add(s.citizen(1))
        assert err.value.field == "external_ref"
    with pytest.raises(NotFoundError) as missing, transaction(factory) as session:
        CitizenRepository(session).get(cid + 999)
    assert missing.value.resource == "citizen"


def test_bulk_insert_returns_ids_in_order_and_pages(factory) -> None:
    with transaction(factory) as session:
        ids = CitizenRepository(session).add_many([s.citizen(i) for i in range(30)])
    assert len(ids) == 30 and len(set(ids)) == 30
    with transaction(factory) as session:
        repo = CitizenRepository(session)
        assert [repo.get(i).external_ref for i in ids] == [f"case-{i}" for i in range(30)]
        rows, total = repo.page(limit=10, offset=25)
        assert total == 30 and [r.external_ref for r in rows] == [f"case-{i}" for i in range(25, 30)]
        assert repo.taken_refs(["case-3", "case-x"]) == {"case-3"}


def test_needs_need_an_existing_employer_and_delete_cascades_feedback(factory) -> None:
    with transaction(factory) as session:
        with pytest.raises(NotFoundError) as err:
            NeedRepository(session).add(s.vacancy(employer_id=42))
        assert err.value.field == "employer_id"
    with transaction(factory) as session:
        eid = EmployerRepository(session).add(s.employer()).id
        nid = NeedRepository(session).add(s.vacancy(eid)).id
        cid = CitizenRepository(session).add(s.citizen()).id
        FeedbackRepository(session).add(cid, nid, FeedbackKind.contacted, "called", key_id=None)
    with transaction(factory) as session:
        assert NeedRepository(session).page_for_employer(eid, 10, 0)[1] == 1
        NeedRepository(session).delete(nid)
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0


def test_override_latest_pin_or_hide_wins(factory) -> None:
    with transaction(factory) as session:
        eid = EmployerRepository(session).add(s.employer()).id
        n1, n2 = NeedRepository(session).add_many([s.vacancy(eid, 1), s.vacancy(eid, 2)])
        cid = CitizenRepository(session).add(s.citizen()).id
        repo = FeedbackRepository(session)
        repo.add(cid, n1, FeedbackKind.pinned, None, None)
        repo.add(cid, n1, FeedbackKind.hidden, "not now", None)
        repo.add(cid, n2, FeedbackKind.pinned, None, None)
        repo.add(cid, n2, FeedbackKind.interviewed, None, None)
    with transaction(factory) as session:
        pinned, hidden = FeedbackRepository(session).overrides()
    assert pinned == {(cid, n2)} and hidden == {(cid, n1)}


def test_keys_store_only_a_hash_and_revoke(factory) -> None:
    with transaction(factory) as session:
        eid = EmployerRepository(session).add(s.employer()).id
        repo = KeyRepository(session)
        row, key = repo.create("employer", employer_id=eid)
        assert key not in row.key_hash and len(row.key_hash) == 64
        with pytest.raises(ValueError, match="employer_id"):
            repo.create("employer")
        with pytest.raises(ValueError, match="role"):
            repo.create("root")
        with pytest.raises(ValueError, match="employer_id"):
            repo.create("consultant", employer_id=eid)
    with transaction(factory) as session:
        repo = KeyRepository(session)
        found = repo.authenticate(key)
        assert found is not None and found.employer_id == eid
        assert repo.authenticate(key + "x") is None
        repo.revoke(row.id)
        assert repo.authenticate(key) is None


def test_erase_deletes_and_pseudonymises_audit(factory) -> None:
    with transaction(factory) as session:
        eid = EmployerRepository(session).add(s.employer()).id
        nid = NeedRepository(session).add(s.vacancy(eid)).id
        cid, other = CitizenRepository(session).add_many([s.citizen(1), s.citizen(2)])
        FeedbackRepository(session).add(cid, nid, FeedbackKind.hired, None, None)
        audit = AuditRepository(session)
        audit.record(
            None, "test", [AuditEntry("citizen.read", "citizen", cid), AuditEntry("citizen.read", "citizen", other)]
        )
    with transaction(factory) as session:
        salt = MetaRepository(session).salt()
        alias = pseudonym(salt, "citizen", cid)
        CitizenRepository(session).erase(cid)
        assert AuditRepository(session).pseudonymise("citizen", cid, alias) == 1
    with transaction(factory) as session:
        assert not CitizenRepository(session).exists(cid)
        assert FeedbackRepository(session).for_citizen(cid) == []
        subjects = set(session.scalars(select(AuditRow.subject_id)))
        assert subjects == {alias, str(other)}
        assert MetaRepository(session).salt() == salt  # stable across transactions
