"""Helpers shared by the routers: id and paging parameters, row → schema conversion, documented errors."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Path, Query

from matcher.api.schemas import BulkErrorBody, CitizenPublic, EmployerPublic, ErrorBody, VacancyPublic
from matcher.storage import MAX_ID, CitizenRow, EmployerRow, NeedRow

Limit = Annotated[int, Query(ge=1, le=100, description="page size, at most 100")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")]
CitizenId = Annotated[int, Path(ge=1, le=MAX_ID)]
VacancyId = Annotated[int, Path(ge=1, le=MAX_ID)]
EmployerId = Annotated[int, Path(ge=1, le=MAX_ID)]

_E = {"model": ErrorBody}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "no key, or an unknown or revoked key"},
    403: {**_E, "description": "the key's role may not use this route, or the resource is another employer's"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_E, "description": "no such resource; `field` names the id"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {**_E, "description": "conflicts with stored data"}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {**_E, "description": "body over the size limit"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {**_E, "description": "the database (or the audit log a read must be recorded in) is unavailable; retry"}
}
BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": BulkErrorBody, "description": "nothing was written; `errors` lists every bad item"},
    415: {"description": "Content-Type is neither application/json nor application/x-ndjson"},
    **TOO_LARGE,
}


def bulk_body(schema: str) -> dict[str, Any]:
    """OpenAPI request body of a bulk route: a JSON array of ``schema`` items, or JSON lines of them (the route
    reads the raw body itself, so FastAPI cannot derive this)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": f"one {schema} JSON object per line"}
                },
            },
        }
    }


def citizen_public(row: CitizenRow) -> CitizenPublic:
    return CitizenPublic.model_validate(
        {**row.profile, "id": row.id, "created_at": row.created_at, "updated_at": row.updated_at}
    )


def employer_public(row: EmployerRow) -> EmployerPublic:
    return EmployerPublic(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        name=row.name,
        cvr=row.cvr,
        postcode=row.postcode,
        industry=row.industry,
    )


def vacancy_public(row: NeedRow) -> VacancyPublic:
    return VacancyPublic.model_validate(
        {**row.document, "id": row.id, "created_at": row.created_at, "updated_at": row.updated_at}
    )


def candidate_handle(salt: bytes, need_id: int, citizen_id: int) -> str:
    """A handle an employer can quote back to the job centre. Keyed per need, so two needs' lists cannot be
    joined to follow one person; only the job centre (holding the salt) can map it back."""
    digest = hmac.new(salt, f"candidate:{need_id}:{citizen_id}".encode(), hashlib.sha256).hexdigest()
    return f"cand_{digest[:20]}"
