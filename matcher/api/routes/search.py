"""Ad-hoc search: rank citizens for a need described in the request, without storing it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from matcher.api._bodies import may_hold_nul, reject_nul
from matcher.api._direct import DirectRoute, direct_auditor, json_media
from matcher.api._index import LiveIndex
from matcher.api._services import NormalizerLike
from matcher.api.deps import AppState, ConsultantAudit, fresh_index, run_ranking
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, TOO_LARGE, UNAVAILABLE
from matcher.api.routes.rankings import consultant_page
from matcher.api.schemas import SearchRequest, SearchResult
from matcher.ranking import CandidateFilter
from matcher.storage import AuditEntry, EmployerRepository


class DirectSearchRoute(DirectRoute):
    """``POST /v1/search/candidates`` answered directly (see matcher/api/_direct.py): a JSON body is parsed and
    validated from its bytes by pydantic-core in one pass, instead of ``json.loads`` and validating the objects."""

    @staticmethod
    async def direct(request: Request) -> Response | None:
        if not json_media(request):
            return None
        audit = await direct_auditor(request, ("consultant",))
        if audit is None:
            return None
        try:
            body = SearchRequest.model_validate_json(await request.body())
        except ValidationError:
            return None
        return await search_candidates(body, request, audit)


router = APIRouter(
    prefix="/v1/search",
    tags=["matching"],
    responses={**AUTH_ERRORS, **NOT_FOUND, **TOO_LARGE, **UNAVAILABLE},
    route_class=DirectSearchRoute,  # its one route
)


@router.post("/candidates", response_model=SearchResult)
async def search_candidates(body: SearchRequest, request: Request, audit: ConsultantAudit) -> Response:
    """Rank citizens for `need` (normalised like a stored need; `employer_id` must name a stored employer, whose
    workplace context the need describes). The response echoes the need as resolved."""
    # async, with one dependency for key, role and audit, and the work in one call (see run_ranking): the
    # dependency bookkeeping and thread hand-offs of a plain route (a session dependency alone costs two) were
    # a fifth of an ad hoc search's CPU time. DirectSearchRoute calls it for well-formed requests.
    state: AppState = request.app.state.matcher
    # the raw body (kept on the request) tells at once whether the need's fields must be searched
    if may_hold_nul(await request.body()):
        reject_nul(body.need.model_dump(mode="json", exclude_unset=True), ("body", "need"))
    index = await fresh_index(state)
    employer_id = body.need.employer_id
    if not index.employer_known(employer_id):
        await run_in_threadpool(_check_employer, state, employer_id)
    citizen_ids, page = await run_ranking(index, _search, body, index, state.normalizer)
    about = {"ad_hoc": True}
    await audit.record_reads_async("matching", [AuditEntry("search.read", "citizen", c, about) for c in citizen_ids])
    return Response(page, media_type="application/json")


def _check_employer(state: AppState, employer_id: int) -> None:
    with state.sessions() as session:
        EmployerRepository(session).get(employer_id)  # 404 naming the employer when it is not stored
    state.index.note_employer(employer_id)


def _search(body: SearchRequest, index: LiveIndex, normalizer: NormalizerLike) -> tuple[list[int], bytes]:
    """The listed citizens' ids and the SearchResult body."""
    vacancy = normalizer.resolve_vacancy(body.need)  # a copy: the request's model is left as it came
    filters = CandidateFilter(
        radius_km=body.radius_km,
        target_groups=set(body.target_groups) if body.target_groups else None,
        min_score=body.min_score,
    )
    matches = index.search(vacancy, limit=body.limit, offset=body.offset, filters=filters)
    # the need echoed as a VacancyCreate: the same fields as the resolved Vacancy (its subclass adds none)
    need = vacancy.model_dump(mode="json")
    return [m.citizen_id for m in matches], consultant_page(index, matches, body.limit, body.offset, need=need)
