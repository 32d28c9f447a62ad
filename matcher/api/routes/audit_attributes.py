"""Protected attributes of a citizen (gender, birth year, origin country), held for fairness audits only.

Consultants may set and read them, as they may every other part of a citizen's data; administrators (keys and
runs) and employers may not (403). They are stored apart from the
profile (``citizen_audit_attributes``), which the engine never reads, so they cannot reach a score. Every read
and write is audit-logged with its purpose (``X-Purpose``, default "fairness audit").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from matcher.api.deps import AuditDep, KeyInfo, SessionDep, require
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, CitizenId
from matcher.api.schemas import AuditAttributesIn, AuditAttributesPublic
from matcher.storage import AuditAttributesRepository, AuditEntry, CitizenAuditAttributesRow

router = APIRouter(prefix="/v1/citizens", tags=["citizens"], responses=AUTH_ERRORS)

PURPOSE = "fairness audit"

AuditStaffKey = Annotated[KeyInfo, Depends(require("consultant"))]


def audit_attributes_public(citizen_id: int, row: CitizenAuditAttributesRow | None) -> AuditAttributesPublic:
    if row is None:
        return AuditAttributesPublic(citizen_id=citizen_id, updated_at=None)
    return AuditAttributesPublic.model_validate(
        {
            "citizen_id": citizen_id,
            "gender": row.gender,
            "birth_year": row.birth_year,
            "origin_country": row.origin_country,
            "updated_at": row.updated_at,
        }
    )


@router.put("/{citizen_id}/audit-attributes", responses=NOT_FOUND)
def put_audit_attributes(
    citizen_id: CitizenId, body: AuditAttributesIn, key: AuditStaffKey, audit: AuditDep, session: SessionDep
) -> AuditAttributesPublic:
    """Replace the protected attributes held for fairness audits (all null: delete them)."""
    row = AuditAttributesRepository(session).put(
        citizen_id,
        body.gender.value if body.gender is not None else None,
        body.birth_year,
        body.origin_country,
    )
    audit.record(session, PURPOSE, [AuditEntry("citizen.audit_attributes.update", "citizen", citizen_id)])
    session.commit()
    return audit_attributes_public(citizen_id, row)


@router.get("/{citizen_id}/audit-attributes", responses=NOT_FOUND)
def get_audit_attributes(
    citizen_id: CitizenId, key: AuditStaffKey, audit: AuditDep, session: SessionDep
) -> AuditAttributesPublic:
    """The protected attributes held for fairness audits (fields null when not supplied)."""
    row = AuditAttributesRepository(session).get(citizen_id)
    audit.record(session, PURPOSE, [AuditEntry("citizen.audit_attributes.read", "citizen", citizen_id)])
    session.commit()
    return audit_attributes_public(citizen_id, row)
