"""Ad-hoc search: rank citizens for a need described in the request, without storing it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from matcher.api._bodies import reject_nul
from matcher.api._bulk import json_response
from matcher.api.deps import AuditDep, ConsultantKey, IndexDep, NormalizerDep, SessionDep
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, TOO_LARGE, UNAVAILABLE
from matcher.api.routes.rankings import consultant_results
from matcher.api.schemas import SearchRequest, SearchResult, VacancyCreate
from matcher.domain import Vacancy
from matcher.ranking import CandidateFilter
from matcher.storage import AuditEntry, EmployerRepository

router = APIRouter(
    prefix="/v1/search", tags=["matching"], responses={**AUTH_ERRORS, **NOT_FOUND, **TOO_LARGE, **UNAVAILABLE}
)


@router.post("/candidates", response_model=SearchResult)
def search_candidates(
    body: SearchRequest,
    key: ConsultantKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
    normalizer: NormalizerDep,
) -> Response:
    """Rank citizens for `need` (normalised like a stored need; `employer_id` must name a stored employer, whose
    workplace context the need describes). The response echoes the need as resolved."""
    data = body.need.model_dump(mode="json", exclude_unset=True)
    reject_nul(data, ("body", "need"))
    employer_id = body.need.employer_id
    if not index.employer_known(employer_id):
        EmployerRepository(session).get(employer_id)  # 404 naming the employer when it is not stored
        session.commit()  # end the read transaction: on SQLite it holds the write lock while we rank
        index.note_employer(employer_id)
    vacancy = normalizer.resolve_vacancy(Vacancy.model_validate(data))
    filters = CandidateFilter(
        radius_km=body.radius_km,
        target_groups=set(body.target_groups) if body.target_groups else None,
        min_score=body.min_score,
    )
    matches = index.search(vacancy, limit=body.limit, offset=body.offset, filters=filters)
    about = {"ad_hoc": True}
    entries = [AuditEntry("search.read", "citizen", m.citizen_id, about) for m in matches]
    audit.record_reads("matching", entries)
    result = SearchResult(
        results=consultant_results(index, matches, body.offset),
        limit=body.limit,
        offset=body.offset,
        need=VacancyCreate.model_validate(vacancy.model_dump(mode="json", exclude_none=True)),
    )
    return json_response(result, 200)  # built and validated here: serialised once, not validated again
