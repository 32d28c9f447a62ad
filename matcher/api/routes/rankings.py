"""Ranked lists from the live index: candidates for a need (consultants: identified; employers: anonymised and
consenting only) and needs for a citizen (consultants). Every list that shows a citizen is audited per citizen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from matcher.api._bulk import json_response
from matcher.api._direct import DirectRoute, direct_auditor
from matcher.api._index import LiveIndex
from matcher.api.deps import AppState, ConsultantAudit, StaffOrEmployerAudit, fresh_index, run_ranking
from matcher.api.routes._common import (
    AUTH_ERRORS,
    NOT_FOUND,
    UNAVAILABLE,
    CitizenId,
    Limit,
    Offset,
    VacancyId,
    candidate_handle,
)
from matcher.api.schemas import (
    AnonymousCandidate,
    AnonymousCandidateList,
    CandidateList,
    MatchList,
    MatchResult,
)
from matcher.domain import Match, NeedKind, TargetGroup
from matcher.ranking import CandidateFilter, NeedFilter
from matcher.storage import AuditEntry, NotFoundError

router = APIRouter(tags=["matching"], responses={**AUTH_ERRORS, **NOT_FOUND, **UNAVAILABLE})

RadiusKm = Annotated[float | None, Query(gt=0, le=1000, description="only within this distance, km")]
MinScore = Annotated[float, Query(ge=0, le=1, description="only scores at or above this")]


def consultant_page(index: LiveIndex, matches: list[Match], limit: int, offset: int, **extra: Any) -> bytes:
    """The JSON of a :class:`CandidateList` of ``matches`` (with ``extra`` fields after its own: SearchResult's
    ``need``), written straight from the matches with orjson, in the models' field order.

    Why not the models: building and validating a CandidateResult per match, the list around them, and dumping
    it all again was a tenth of an ad hoc search's CPU time, for values that are already checked (the engine's
    matches are models). tests/api/test_matching.py validates these bodies against the response models."""
    results = []
    for rank, m in enumerate(matches, start=offset + 1):
        facts = index.citizen(m.citizen_id)
        results.append(
            {
                "rank": rank,
                "score": m.score,
                "components": m.components,
                "gates": m.gates,
                "explanation": {"da": m.explanation.da, "en": m.explanation.en},
                "citizen_id": m.citizen_id,
                "external_ref": facts.external_ref if facts else "",
            }
        )
    return orjson.dumps({"audience": "consultant", "results": results, "limit": limit, "offset": offset, **extra})


def consenting_page(
    index: LiveIndex, fetch: Callable[[int], list[Match]], limit: int, offset: int
) -> list[Match]:
    """The ``offset:offset+limit`` slice of the ranked list restricted to consenting citizens.

    The engine ranks everyone; employers may see only those who consented, so we ask for a longer prefix until
    the filtered list is long enough or the engine has no more.
    """
    want = offset + limit
    batch = max(2 * want, 50)
    while True:
        ranked = fetch(batch)
        visible = [m for m in ranked if (f := index.citizen(m.citizen_id)) is not None and f.consent]
        if len(visible) >= want or len(ranked) < batch:
            return visible[offset:want]
        batch *= 4


class _CandidatesQuery(BaseModel):
    """The query parameters of ``GET /v1/vacancies/{id}/candidates``, typed as the route declares them."""

    limit: Limit = 20
    offset: Offset = 0
    radius_km: RadiusKm = None
    target_group: list[TargetGroup] | None = None
    min_score: MinScore = 0


_QUERY_NAMES = frozenset(_CandidatesQuery.model_fields)
_VACANCY_ID: TypeAdapter[int] = TypeAdapter(VacancyId)


class DirectCandidatesRoute(DirectRoute):
    """``GET /v1/vacancies/{id}/candidates`` answered directly (see matcher/api/_direct.py). A query that repeats
    a one-valued parameter or names one the route does not declare goes to FastAPI's handler."""

    @staticmethod
    async def direct(request: Request) -> Response | None:
        audit = await direct_auditor(request, ("consultant", "employer"))
        if audit is None:
            return None
        query: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name == "target_group":
                query.setdefault(name, []).append(value)
            elif name in query or name not in _QUERY_NAMES:
                return None
            else:
                query[name] = value
        try:
            vacancy_id = _VACANCY_ID.validate_python(request.path_params["vacancy_id"])
            q = _CandidatesQuery.model_validate(query)
        except ValidationError:
            return None
        return await vacancy_candidates(
            request, vacancy_id, audit, q.limit, q.offset, q.radius_km, q.target_group, q.min_score
        )


async def vacancy_candidates(
    request: Request,
    vacancy_id: VacancyId,
    audit: StaffOrEmployerAudit,
    limit: Limit = 20,
    offset: Offset = 0,
    radius_km: RadiusKm = None,
    target_group: Annotated[
        list[TargetGroup] | None, Query(description="only these benefit groups (consultants only)")
    ] = None,
    min_score: MinScore = 0,
) -> Response:
    """Ranked citizens for a stored need. Consultants get identified results; an employer key gets, for its own
    needs only, anonymised results of consenting citizens (a per-need handle instead of identity)."""
    # async, with one dependency for key, role and audit: a list already ranked since the last write (the common
    # case: consultants reopen lists) is answered on the event loop without a thread hand-off, and FastAPI's
    # per-dependency bookkeeping was a third of such a request. Ranking goes through run_ranking (deps.py).
    state: AppState = request.app.state.matcher
    key = audit.key
    index = await fresh_index(state)
    need = index.need(vacancy_id)
    if need is None:
        raise NotFoundError("vacancy", vacancy_id)
    filters = CandidateFilter(
        radius_km=radius_km, target_groups=set(target_group) if target_group else None, min_score=min_score
    )
    if key.role == "employer":
        if key.employer_id != need.employer_id:
            raise HTTPException(403, "employer_id: this key belongs to another employer")
        if target_group:
            raise HTTPException(403, "target_group: filtering by benefit group is for consultants only")
        matches = await run_ranking(
            index,
            consenting_page,
            index,
            lambda n: index.candidates(vacancy_id, limit=n, offset=0, filters=filters),
            limit,
            offset,
        )
        about = {"vacancy_id": vacancy_id}
        entries = [AuditEntry("candidates.read.anonymous", "citizen", m.citizen_id, about) for m in matches]
        await audit.record_reads_async("employer recruitment", entries)
        results = [
            AnonymousCandidate(
                candidate=candidate_handle(state.salt, vacancy_id, m.citizen_id),
                rank=rank,
                score=m.score,
                components=m.components,
                gates=m.gates,
                explanation=m.explanation,
            )
            for rank, m in enumerate(matches, start=offset + 1)
        ]
        # built and valid here: serialised once, not validated again against the response union
        return json_response(AnonymousCandidateList(results=results, limit=limit, offset=offset), 200)
    ranked = index.cached_candidates(vacancy_id, limit, offset, filters)
    if ranked is None:
        ranked = await run_ranking(index, index.candidates_entry, vacancy_id, limit, offset, filters)
    about = {"vacancy_id": vacancy_id}
    entries = [AuditEntry("candidates.read", "citizen", cid, about) for cid in ranked.citizen_ids]
    await audit.record_reads_async("matching", entries)
    if ranked.body is None:
        ranked.body = consultant_page(index, ranked.matches, limit, offset)
    return Response(ranked.body, media_type="application/json")


router.add_api_route(
    "/v1/vacancies/{vacancy_id}/candidates",
    vacancy_candidates,
    methods=["GET"],
    response_model=CandidateList | AnonymousCandidateList,
    route_class_override=DirectCandidatesRoute,
)


@router.get("/v1/citizens/{citizen_id}/matches", response_model=MatchList)
async def citizen_matches(
    request: Request,
    citizen_id: CitizenId,
    audit: ConsultantAudit,
    limit: Limit = 20,
    offset: Offset = 0,
    kind: Annotated[list[NeedKind] | None, Query(description="only these kinds of need")] = None,
    radius_km: RadiusKm = None,
    min_score: MinScore = 0,
) -> Response:
    """Ranked needs (vacancies and slots) for one citizen."""
    index = await fresh_index(request.app.state.matcher)
    if index.citizen(citizen_id) is None:
        raise NotFoundError("citizen", citizen_id)
    filters = NeedFilter(kinds=set(kind) if kind else None, radius_km=radius_km, min_score=min_score)
    ranked = index.cached_matches(citizen_id, limit, offset, filters)
    if ranked is None:
        ranked = await run_ranking(index, index.matches_entry, citizen_id, limit, offset, filters)
    await audit.record_reads_async("matching", [AuditEntry("matches.read", "citizen", citizen_id)])
    if ranked.body is None:
        ranked.body = match_list(index, ranked.matches, limit, offset).model_dump_json().encode()
    return Response(ranked.body, media_type="application/json")


def match_list(index: LiveIndex, matches: list[Match], limit: int, offset: int) -> MatchList:
    results = []
    for rank, m in enumerate(matches, start=offset + 1):
        need = index.need(m.need_id)
        if need is None:  # removed between ranking and here
            continue
        results.append(
            MatchResult(
                need_id=m.need_id,
                employer_id=need.employer_id,
                title=need.title,
                kind=NeedKind(need.kind),
                rank=rank,
                score=m.score,
                components=m.components,
                gates=m.gates,
                explanation=m.explanation,
            )
        )
    return MatchList(results=results, limit=limit, offset=offset)
