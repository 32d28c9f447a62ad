"""Needs (vacancies, flexjobs, IGU, internships, hybrid internships): employers manage their own, consultants all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from matcher.api._bodies import may_hold_nul, parse_items, reject_nul
from matcher.api._bulk import bulk_error_response, json_response, prepare_vacancies
from matcher.api.deps import (
    AppState,
    AuditDep,
    Auditor,
    ConsultantKey,
    IndexDep,
    KeyInfo,
    NormalizerDep,
    SessionDep,
    StaffOrEmployerKey,
    StateDep,
    ensure_employer_access,
)
from matcher.api.errors import BodyFieldError
from matcher.api.routes._common import (
    AUTH_ERRORS,
    BULK_RESPONSES,
    NOT_FOUND,
    TOO_LARGE,
    EmployerId,
    Limit,
    Offset,
    VacancyId,
    bulk_body,
    vacancy_public,
)
from matcher.api.schemas import BulkErrorBody, BulkResult, Page, VacancyIn, VacancyPublic
from matcher.domain import Vacancy
from matcher.storage import AuditEntry, EmployerRepository, NeedRepository, NeedRow, committed_changes, transaction

router = APIRouter(tags=["vacancies"], responses=AUTH_ERRORS)

PURPOSE = "vacancy management"


def _domain(body: VacancyIn, employer_id: int) -> Vacancy:
    if body.employer_id is not None and body.employer_id != employer_id:
        raise BodyFieldError("employer_id", f"must be {employer_id} (the need's employer) or left out")
    data = body.model_dump(mode="json", exclude_unset=True)
    reject_nul(data)
    return Vacancy.model_validate({**data, "employer_id": employer_id})


def _own_need(session: Any, key: KeyInfo, vacancy_id: int) -> NeedRow:
    row = NeedRepository(session).get(vacancy_id)
    ensure_employer_access(key, row.employer_id)
    return row


def _end_read(session: Any) -> None:
    """End the checks' read transaction before waiting for the index's write mutex. On SQLite every transaction
    holds the write lock from its BEGIN, and the writer holding the mutex may be waiting for that lock: the two
    would wait on each other until the 30 s busy timeout. The write re-reads what it needs inside the mutex."""
    session.rollback()


@router.post("/v1/employers/{employer_id}/vacancies", status_code=201, responses={**NOT_FOUND, **TOO_LARGE})
def create_vacancy(
    employer_id: EmployerId,
    body: VacancyIn,
    key: StaffOrEmployerKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
    normalizer: NormalizerDep,
) -> VacancyPublic:
    """Post a need for this employer. A free-text `title` without `occupation_uri` is normalised to an ESCO
    occupation (returned in `occupation_resolved`); free-text skills come back `resolved`."""
    ensure_employer_access(key, employer_id)
    EmployerRepository(session).get(employer_id)
    _end_read(session)
    vacancy = normalizer.resolve_vacancy(_domain(body, employer_id))
    with index.write_mutex:
        row = NeedRepository(session).add(vacancy)
        audit.record(session, PURPOSE, [AuditEntry("vacancy.create", "vacancy", row.id)])
        session.commit()
        index.put_needs([(row.id, vacancy)], committed_changes(session))
    return vacancy_public(row)


@router.get("/v1/employers/{employer_id}/vacancies", responses=NOT_FOUND)
def list_vacancies(
    employer_id: EmployerId, key: StaffOrEmployerKey, session: SessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[VacancyPublic]:
    ensure_employer_access(key, employer_id)
    EmployerRepository(session).get(employer_id)
    rows, total = NeedRepository(session).page_for_employer(employer_id, limit, offset)
    return Page[VacancyPublic](items=[vacancy_public(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/v1/vacancies/{vacancy_id}", responses=NOT_FOUND)
def get_vacancy(vacancy_id: VacancyId, key: StaffOrEmployerKey, session: SessionDep) -> VacancyPublic:
    return vacancy_public(_own_need(session, key, vacancy_id))


@router.put("/v1/vacancies/{vacancy_id}", responses={**NOT_FOUND, **TOO_LARGE})
def replace_vacancy(
    vacancy_id: VacancyId,
    body: VacancyIn,
    key: StaffOrEmployerKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
    normalizer: NormalizerDep,
) -> VacancyPublic:
    """Replace a need. It stays with its employer (`employer_id`, if sent, must be the stored one)."""
    employer_id = _own_need(session, key, vacancy_id).employer_id
    _end_read(session)
    vacancy = normalizer.resolve_vacancy(_domain(body, employer_id))
    with index.write_mutex:
        row = NeedRepository(session).replace(vacancy_id, vacancy)
        audit.record(session, PURPOSE, [AuditEntry("vacancy.update", "vacancy", vacancy_id)])
        session.commit()
        index.put_needs([(vacancy_id, vacancy)], committed_changes(session))
    return vacancy_public(row)


@router.delete("/v1/vacancies/{vacancy_id}", status_code=204, responses=NOT_FOUND)
def delete_vacancy(
    vacancy_id: VacancyId, key: StaffOrEmployerKey, audit: AuditDep, session: SessionDep, index: IndexDep
) -> Response:
    """Delete a need with its feedback and ranking results."""
    _own_need(session, key, vacancy_id)
    _end_read(session)
    with index.write_mutex:
        NeedRepository(session).delete(vacancy_id)
        audit.record(session, PURPOSE, [AuditEntry("vacancy.delete", "vacancy", vacancy_id)])
        session.commit()
        index.drop_need(vacancy_id, committed_changes(session))
    return Response(status_code=204)


@router.post(
    "/v1/vacancies:bulk",
    status_code=201,
    openapi_extra=bulk_body("VacancyCreate"),
    responses=BULK_RESPONSES,
)
async def bulk_vacancies(request: Request, key: ConsultantKey, audit: AuditDep, state: StateDep) -> Response:
    """Upload many needs (each names its `employer_id`) as a JSON array or JSONL. All or nothing, as
    `POST /v1/citizens:bulk`."""
    raw = await request.body()
    try:
        items = parse_items(raw, request.headers.get("content-type", "application/json"))
    except BodyFieldError as exc:
        return json_response(BulkErrorBody(detail=str(exc)), 422)
    return await run_in_threadpool(_bulk_vacancies, items, may_hold_nul(raw), audit, state)


def _bulk_vacancies(items: list[Any], check_nul: bool, audit: Auditor, state: AppState) -> Response:
    with state.index.write_mutex:
        with transaction(state.sessions) as session:
            vacancies, errors = prepare_vacancies(session, items, state.normalizer, check_nul)
            if errors:
                return bulk_error_response(len(items), errors)
            ids = NeedRepository(session).add_many(vacancies)
            audit.record(session, PURPOSE, [AuditEntry("vacancy.create", "vacancy", i, {"bulk": True}) for i in ids])
        state.index.put_needs(list(zip(ids, vacancies, strict=True)), committed_changes(session))
    return json_response(BulkResult(ids=ids, count=len(ids)), 201)
