"""Citizen profiles: create, read, replace, GDPR erase and export, bulk upload. Consultants only.

Writes follow one order everywhere: validate and normalise (no I/O), write and audit in one transaction, commit,
then update the live index — so a failed write never reaches the index and an acknowledged one is searchable at
once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from matcher.api._bodies import may_hold_nul, parse_items, reject_nul
from matcher.api._bulk import bulk_error_response, json_response, prepare_citizens
from matcher.api.deps import AppState, AuditDep, Auditor, ConsultantKey, IndexDep, NormalizerDep, SessionDep, StateDep
from matcher.api.errors import BodyFieldError
from matcher.api.routes._common import (
    AUTH_ERRORS,
    BULK_RESPONSES,
    CONFLICT,
    NOT_FOUND,
    TOO_LARGE,
    CitizenId,
    Limit,
    Offset,
    bulk_body,
    citizen_public,
)
from matcher.api.routes.audit_attributes import audit_attributes_public
from matcher.api.schemas import (
    AuditPublic,
    BulkErrorBody,
    BulkResult,
    CitizenCreate,
    CitizenExport,
    CitizenPublic,
    FeedbackPublic,
    Page,
)
from matcher.domain import Citizen, TargetGroup
from matcher.storage import (
    AuditAttributesRepository,
    AuditEntry,
    AuditRepository,
    CitizenRepository,
    FeedbackRepository,
    committed_changes,
    pseudonym,
    transaction,
)

router = APIRouter(prefix="/v1/citizens", tags=["citizens"], responses=AUTH_ERRORS)

CASEWORK = "casework"


def _domain(body: CitizenCreate) -> Citizen:
    data = body.model_dump(mode="json", exclude_unset=True)
    reject_nul(data)
    return Citizen.model_validate(data)


@router.post("", status_code=201, responses={**CONFLICT, **TOO_LARGE})
def create_citizen(
    body: CitizenCreate,
    key: ConsultantKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
    normalizer: NormalizerDep,
) -> CitizenPublic:
    """Store a profile. Free-text skills (`label`) and job titles (`title`) come back with `resolved`: the ESCO
    URI the server chose and its confidence."""
    citizen = normalizer.resolve_citizen(_domain(body))
    with index.write_mutex:
        row = CitizenRepository(session).add(citizen)
        audit.record(session, CASEWORK, [AuditEntry("citizen.create", "citizen", row.id)])
        session.commit()
        index.put_citizens([(row.id, citizen)], committed_changes(session))
    return citizen_public(row)


@router.get("")
def list_citizens(
    key: ConsultantKey,
    audit: AuditDep,
    session: SessionDep,
    limit: Limit = 20,
    offset: Offset = 0,
    target_group: Annotated[TargetGroup | None, Query(description="only this benefit group")] = None,
) -> Page[CitizenPublic]:
    rows, total = CitizenRepository(session).page(limit, offset, target_group.value if target_group else None)
    audit.record(session, CASEWORK, [AuditEntry("citizen.list", "citizen", r.id) for r in rows])
    session.commit()
    return Page[CitizenPublic](items=[citizen_public(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{citizen_id}", responses=NOT_FOUND)
def get_citizen(citizen_id: CitizenId, key: ConsultantKey, audit: AuditDep, session: SessionDep) -> CitizenPublic:
    row = CitizenRepository(session).get(citizen_id)
    audit.record(session, CASEWORK, [AuditEntry("citizen.read", "citizen", citizen_id)])
    session.commit()
    return citizen_public(row)


@router.put("/{citizen_id}", responses={**NOT_FOUND, **CONFLICT, **TOO_LARGE})
def replace_citizen(
    citizen_id: CitizenId,
    body: CitizenCreate,
    key: ConsultantKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
    normalizer: NormalizerDep,
) -> CitizenPublic:
    citizen = normalizer.resolve_citizen(_domain(body))
    with index.write_mutex:
        row = CitizenRepository(session).replace(citizen_id, citizen)
        audit.record(session, CASEWORK, [AuditEntry("citizen.update", "citizen", citizen_id)])
        session.commit()
        index.put_citizens([(citizen_id, citizen)], committed_changes(session))
    return citizen_public(row)


@router.delete("/{citizen_id}", status_code=204, responses=NOT_FOUND)
def erase_citizen(
    citizen_id: CitizenId, key: ConsultantKey, audit: AuditDep, state: StateDep, session: SessionDep
) -> Response:
    """GDPR erase: the profile, its feedback and ranking results, and its index entry go; earlier audit entries
    about the citizen keep only a pseudonym (a salted hash of the id), and one erase record is added."""
    alias = pseudonym(state.salt, "citizen", citizen_id)
    with state.index.write_mutex:
        CitizenRepository(session).erase(citizen_id)
        AuditRepository(session).pseudonymise("citizen", citizen_id, alias)
        audit.record(session, "gdpr erasure", [AuditEntry("citizen.erase", "citizen", alias)])
        session.commit()
        state.index.drop_citizen(citizen_id, committed_changes(session))
    return Response(status_code=204)


@router.get("/{citizen_id}/export", responses=NOT_FOUND)
def export_citizen(citizen_id: CitizenId, key: ConsultantKey, audit: AuditDep, session: SessionDep) -> CitizenExport:
    """Everything held about one citizen (GDPR art. 15): profile, feedback, audit entries (this export included),
    and the protected attributes held for fairness audits (null when none)."""
    row = CitizenRepository(session).get(citizen_id)
    audit.record(session, "gdpr access request", [AuditEntry("citizen.export", "citizen", citizen_id)])
    session.commit()
    held = AuditAttributesRepository(session).get(citizen_id)
    return CitizenExport(
        citizen=citizen_public(row),
        feedback=[FeedbackPublic.model_validate(f) for f in FeedbackRepository(session).for_citizen(citizen_id)],
        audit=[AuditPublic.model_validate(a) for a in AuditRepository(session).about("citizen", citizen_id)],
        audit_attributes=None if held is None else audit_attributes_public(citizen_id, held),
    )


@router.post(
    ":bulk",
    status_code=201,
    openapi_extra=bulk_body("CitizenCreate"),
    responses=BULK_RESPONSES,
)
async def bulk_citizens(request: Request, key: ConsultantKey, audit: AuditDep, state: StateDep) -> Response:
    """Upload many profiles as a JSON array or JSONL. All or nothing: if any item is invalid (shape, taxonomy,
    duplicate external_ref) nothing is written and the 422 lists every bad item's index, field and reason;
    otherwise all are stored in one transaction and their ids returned in input order."""
    raw = await request.body()
    try:
        items = parse_items(raw, request.headers.get("content-type", "application/json"))
    except BodyFieldError as exc:
        return json_response(BulkErrorBody(detail=str(exc)), 422)
    return await run_in_threadpool(_bulk_citizens, items, may_hold_nul(raw), audit, state)


def _bulk_citizens(items: list[Any], check_nul: bool, audit: Auditor, state: AppState) -> Response:
    with state.index.write_mutex:
        with transaction(state.sessions) as session:
            citizens, errors = prepare_citizens(session, items, state.normalizer, check_nul)
            if errors:
                return bulk_error_response(len(items), errors)
            ids = CitizenRepository(session).add_many(citizens)
            entries = [AuditEntry("citizen.create", "citizen", i, {"bulk": True}) for i in ids]
            audit.record(session, CASEWORK, entries)
        state.index.put_citizens(list(zip(ids, citizens, strict=True)), committed_changes(session))
    return json_response(BulkResult(ids=ids, count=len(ids)), 201)
