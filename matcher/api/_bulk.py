"""Validation of bulk uploads: every item checked (shape, NUL text, taxonomy) before anything is written, so a
422 lists every bad item at once and a 201 means all were stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, ValidationError

from matcher.api._bodies import find_nul
from matcher.api.schemas import BulkErrorBody, BulkItemError
from matcher.taxonomy import TaxonomyInputError

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _loc(loc: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in loc) or "item"


def validate_items(
    items: Sequence[Any], model: type[M], resolve: Callable[[M], R]
) -> tuple[list[tuple[int, R]], list[BulkItemError]]:
    """Validate then resolve (normalise) each item; returns (position, resolved item) of the good ones and the
    errors of the bad ones."""
    good: list[tuple[int, R]] = []
    errors: list[BulkItemError] = []
    for i, item in enumerate(items):
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            errors.extend(BulkItemError(index=i, field=_loc(e["loc"]), reason=e["msg"]) for e in exc.errors())
            continue
        nul = find_nul(item)
        if nul is not None:
            errors.append(BulkItemError(index=i, field=_loc(nul), reason="text must not contain NUL characters"))
            continue
        try:
            good.append((i, resolve(parsed)))
        except TaxonomyInputError as exc:
            errors.append(BulkItemError(index=i, field=exc.field, reason=exc.reason))
    return good, errors


def bulk_error_response(n_items: int, errors: list[BulkItemError]) -> Response:
    bad = len({e.index for e in errors})
    body = BulkErrorBody(detail=f"{bad} of {n_items} items are invalid; nothing was written", errors=errors)
    return json_response(body, 422)


def json_response(model: BaseModel, status: int) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")
