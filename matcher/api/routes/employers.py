"""Employers: companies that post needs. Consultants manage them; an employer key may read its own."""

from __future__ import annotations

from fastapi import APIRouter

from matcher.api._bodies import reject_nul
from matcher.api.deps import AuditDep, ConsultantKey, SessionDep, StaffOrEmployerKey, ensure_employer_access
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, TOO_LARGE, EmployerId, Limit, Offset, employer_public
from matcher.api.schemas import EmployerCreate, EmployerPublic, Page
from matcher.domain import Employer
from matcher.storage import AuditEntry, EmployerRepository

router = APIRouter(prefix="/v1/employers", tags=["employers"], responses=AUTH_ERRORS)


def _domain(body: EmployerCreate) -> Employer:
    reject_nul(body.model_dump(mode="json"))
    return Employer.model_validate(body.model_dump())


@router.post("", status_code=201, responses=TOO_LARGE)
def create_employer(
    body: EmployerCreate, key: ConsultantKey, audit: AuditDep, session: SessionDep
) -> EmployerPublic:
    """Register a company."""
    row = EmployerRepository(session).add(_domain(body))
    audit.record(session, "employer administration", [AuditEntry("employer.create", "employer", row.id)])
    session.commit()
    return employer_public(row)


@router.get("")
def list_employers(
    key: ConsultantKey, session: SessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[EmployerPublic]:
    rows, total = EmployerRepository(session).page(limit, offset)
    return Page[EmployerPublic](items=[employer_public(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{employer_id}", responses=NOT_FOUND)
def get_employer(employer_id: EmployerId, key: StaffOrEmployerKey, session: SessionDep) -> EmployerPublic:
    ensure_employer_access(key, employer_id)
    return employer_public(EmployerRepository(session).get(employer_id))


@router.put("/{employer_id}", responses={**NOT_FOUND, **TOO_LARGE})
def replace_employer(
    employer_id: EmployerId, body: EmployerCreate, key: ConsultantKey, audit: AuditDep, session: SessionDep
) -> EmployerPublic:
    row = EmployerRepository(session).replace(employer_id, _domain(body))
    audit.record(session, "employer administration", [AuditEntry("employer.update", "employer", row.id)])
    session.commit()
    return employer_public(row)
