"""Validation of bulk uploads (the API's ``:bulk`` routes and ``matcher import``): every item is checked — shape,
NUL text, taxonomy, duplicates within the upload and against the database, referenced employers — before
anything is written, so a refusal lists every bad item at once and an acceptance means all will be stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from matcher.api._bodies import find_nul
from matcher.api._services import NormalizerLike
from matcher.api.schemas import BulkErrorBody, BulkItemError
from matcher.domain import Citizen, Employer, Vacancy
from matcher.storage import CitizenRepository, EmployerRepository
from matcher.taxonomy import TaxonomyInputError

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _loc(loc: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in loc) or "item"


def validate_items(
    items: Sequence[Any],
    model: type[M],
    resolve_many: Callable[[list[M]], Sequence[R | TaxonomyInputError]],
    check_nul: bool = True,
) -> tuple[list[tuple[int, R]], list[BulkItemError]]:
    """Validate each item, then resolve (normalise) all valid ones in one call, so that their labels are
    normalised in one batch; returns (position, resolved item) of the good ones and the errors of the bad ones.
    ``resolve_many`` answers in order, an item it cannot resolve by its :class:`TaxonomyInputError`.
    ``check_nul=False`` skips the NUL scan when the caller knows the raw body has none."""
    parsed: list[tuple[int, M]] = []
    errors: list[BulkItemError] = []
    for i, item in enumerate(items):
        try:
            model_item = model.model_validate(item)
        except ValidationError as exc:
            errors.extend(BulkItemError(index=i, field=_loc(e["loc"]), reason=e["msg"]) for e in exc.errors())
            continue
        nul = find_nul(item) if check_nul else None
        if nul is not None:
            errors.append(BulkItemError(index=i, field=_loc(nul), reason="text must not contain NUL characters"))
            continue
        parsed.append((i, model_item))
    good: list[tuple[int, R]] = []
    for (i, _), resolved in zip(parsed, resolve_many([m for _, m in parsed]), strict=True):
        if isinstance(resolved, TaxonomyInputError):
            errors.append(BulkItemError(index=i, field=resolved.field, reason=resolved.reason))
        else:
            good.append((i, resolved))
    return good, errors


def bulk_error_response(n_items: int, errors: list[BulkItemError]) -> Response:
    bad = len({e.index for e in errors})
    body = BulkErrorBody(detail=f"{bad} of {n_items} items are invalid; nothing was written", errors=errors)
    return json_response(body, 422)


def json_response(model: BaseModel, status: int) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _by_index(errors: list[BulkItemError]) -> list[BulkItemError]:
    return sorted(errors, key=lambda e: e.index)


def prepare_citizens(
    session: Session, items: Sequence[Any], normalizer: NormalizerLike, check_nul: bool = True
) -> tuple[list[Citizen], list[BulkItemError]]:
    """Resolved profiles ready for ``CitizenRepository.add_many``, or the errors (then nothing may be written)."""
    good, errors = validate_items(items, Citizen, normalizer.resolve_citizens, check_nul)
    first: dict[str, int] = {}
    for i, citizen in good:
        ref = citizen.external_ref
        if ref in first:
            errors.append(
                BulkItemError(index=i, field="external_ref", reason=f"repeats the external_ref of item {first[ref]}")
            )
        first.setdefault(ref, i)
    taken = CitizenRepository(session).taken_refs([c.external_ref for _, c in good])
    errors.extend(
        BulkItemError(index=i, field="external_ref", reason="a citizen with this external_ref already exists")
        for i, c in good
        if c.external_ref in taken
    )
    return [c for _, c in good], _by_index(errors)


def prepare_vacancies(
    session: Session, items: Sequence[Any], normalizer: NormalizerLike, check_nul: bool = True
) -> tuple[list[Vacancy], list[BulkItemError]]:
    """Resolved needs ready for ``NeedRepository.add_many``, or the errors (then nothing may be written)."""
    good, errors = validate_items(items, Vacancy, normalizer.resolve_vacancies, check_nul)
    known = EmployerRepository(session).existing_ids(v.employer_id for _, v in good)
    errors.extend(
        BulkItemError(index=i, field="employer_id", reason=f"employer {v.employer_id} not found")
        for i, v in good
        if v.employer_id not in known
    )
    return [v for _, v in good], _by_index(errors)


def prepare_employers(items: Sequence[Any]) -> tuple[list[Employer], list[BulkItemError]]:
    good, errors = validate_items(items, Employer, lambda employers: employers)
    return [e for _, e in good], _by_index(errors)
