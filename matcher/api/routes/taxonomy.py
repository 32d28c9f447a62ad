"""ESCO normalisation, skill extraction and autocomplete. Any key; no personal data involved."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query

from matcher.api._bodies import reject_nul
from matcher.api.deps import CurrentKey, NormalizerDep
from matcher.api.errors import BodyFieldError
from matcher.api.routes._common import AUTH_ERRORS, TOO_LARGE
from matcher.api.schemas import (
    Candidate,
    ExtractRequest,
    ExtractResponse,
    NormalizeRequest,
    NormalizeResponse,
    SkillSpanOut,
)

router = APIRouter(prefix="/v1/taxonomy", tags=["taxonomy"], responses=AUTH_ERRORS)

Q = Annotated[str, Query(min_length=1, max_length=200, description="what the user typed so far")]
SuggestLimit = Annotated[int, Query(ge=1, le=50)]


def _candidates(found: Sequence[Any]) -> list[Candidate]:
    return [Candidate(uri=c.uri, label=c.label, score=float(c.score)) for c in found]


@contextmanager
def _as_field_error(loc: tuple[str, ...]) -> Iterator[None]:
    """The normaliser reports unusable text (e.g. only spaces) as ValueError; that is the client's 422."""
    try:
        yield
    except ValueError as exc:
        raise BodyFieldError(loc[-1], str(exc), loc[:-1]) from None


@router.post("/occupations/normalize", responses=TOO_LARGE)
def normalize_occupation(body: NormalizeRequest, key: CurrentKey, normalizer: NormalizerDep) -> NormalizeResponse:
    """Free-text job title (Danish or English) → ranked ESCO occupations."""
    reject_nul(body.model_dump())
    with _as_field_error(("body", "text")):
        found = normalizer.normalize_occupation(body.text, limit=body.limit, lang=body.lang)
    return NormalizeResponse(results=_candidates(found))


@router.post("/skills/extract", responses=TOO_LARGE)
def extract_skills(body: ExtractRequest, key: CurrentKey, normalizer: NormalizerDep) -> ExtractResponse:
    """ESCO skills mentioned in a free text (e.g. a job ad), with character offsets."""
    reject_nul(body.model_dump())
    with _as_field_error(("body", "text")):
        spans = normalizer.extract_skills(body.text)
    return ExtractResponse(
        skills=[SkillSpanOut(uri=s.uri, label=s.label, score=float(s.score), start=s.start, end=s.end) for s in spans]
    )


@router.get("/skills")
def suggest_skills(key: CurrentKey, normalizer: NormalizerDep, q: Q, limit: SuggestLimit = 10) -> NormalizeResponse:
    """Autocomplete for skills."""
    reject_nul(q, ("query", "q"))
    with _as_field_error(("query", "q")):
        found = normalizer.normalize_skill(q, limit=limit)
    return NormalizeResponse(results=_candidates(found))


@router.get("/occupations")
def suggest_occupations(
    key: CurrentKey, normalizer: NormalizerDep, q: Q, limit: SuggestLimit = 10
) -> NormalizeResponse:
    """Autocomplete for occupations."""
    reject_nul(q, ("query", "q"))
    with _as_field_error(("query", "q")):
        found = normalizer.normalize_occupation(q, limit=limit)
    return NormalizeResponse(results=_candidates(found))
