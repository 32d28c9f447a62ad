"""Request and response schemas of the v1 API: families built on the domain models.

``XCreate`` is what a client sends (the domain model itself), ``XPublic`` what it gets back (the same fields plus
id and timestamps; free-text skills and titles come back with the ``resolved`` URI and confidence the server
chose). The JSON field names are the domain's and are a contract.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from matcher.domain import Citizen, Employer, Explanation, FeedbackKind, NeedKind, TargetGroup, Vacancy
from matcher.domain._models import CountryCode

_CITIZEN_EXAMPLE: dict[str, Any] = {
    "external_ref": "SAG-2024-00917",
    "name": "Amina Hassan",
    "target_group": "integration",
    "postcode": "4200",
    "max_commute_km": 25,
    "hours": {"min": 20, "max": 37},
    "skills": [
        {"label": "truckkørsel", "provenance": "observed_in_internship", "years": 2},
        {"uri": "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"},
    ],
    "occupations": [{"title": "lagerarbejder", "years": 3}],
    "qualifications": [
        {"title": "Bachelor in accounting", "country": "SY", "eqf_level": 6, "recognition": "not_assessed"}
    ],
    "languages": [{"language": "da", "cefr": "PD2", "school_weekdays": ["tue", "thu"]}],
    "driving_licences": ["B"],
    "consent_share_with_employers": True,
}

_VACANCY_EXAMPLE: dict[str, Any] = {
    "employer_id": 1,
    "title": "Lagermedarbejder",
    "kind": "hybrid_internship",
    "essential_skills": [{"label": "truckkørsel"}],
    "languages": [{"language": "da", "cefr": "A2", "hard": False}],
    "language_support": True,
    "postcode": "4200",
    "hybrid": {"paid_hours": 15, "internship_hours": 15, "weeks": 13, "mentor": True},
    "positions": 2,
}

_EMPLOYER_EXAMPLE: dict[str, Any] = {
    "name": "Slagelse Lager ApS",
    "cvr": "12345678",
    "postcode": "4200",
    "industry": "logistik",
}


T = TypeVar("T")


class _Stored(BaseModel):
    id: int = Field(ge=1)
    created_at: dt.datetime
    updated_at: dt.datetime


# --------------------------------------------------------------------------------------------- resources


class EmployerCreate(Employer):
    model_config = ConfigDict(json_schema_extra={"examples": [_EMPLOYER_EXAMPLE]})


class EmployerPublic(_Stored, Employer):
    pass


PROTECTED_FIELDS: tuple[str, ...] = ("gender", "birth_year", "origin_country")
AUDIT_ATTRIBUTES_ROUTE = "PUT /v1/citizens/{citizen_id}/audit-attributes"


class CitizenCreate(Citizen):
    model_config = ConfigDict(json_schema_extra={"examples": [_CITIZEN_EXAMPLE]})

    @model_validator(mode="before")
    @classmethod
    def _no_protected_attributes(cls, data: Any) -> Any:
        """A protected attribute in a profile is refused with a pointer to where it belongs (the profile would
        refuse it anyway as an unknown field, but without saying what to do instead)."""
        if isinstance(data, dict):
            found = [name for name in PROTECTED_FIELDS if name in data]
            if found:
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "protected_attribute",
                                "{field} is a protected attribute and never part of the profile (the engine must "
                                "not score on it); send it for fairness audits only, to {route}",
                                {"field": name, "route": AUDIT_ATTRIBUTES_ROUTE},
                            ),
                            loc=(name,),
                            input=data[name],
                        )
                        for name in found
                    ],
                )
        return data


class CitizenPublic(_Stored, Citizen):
    pass


class VacancyCreate(Vacancy):
    """A need as sent to ``POST /v1/vacancies:bulk`` and ``/v1/search/candidates``: names its employer."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VACANCY_EXAMPLE]})


class VacancyIn(Vacancy):
    """A need under ``/v1/employers/{employer_id}/vacancies`` or ``PUT /v1/vacancies/{id}``: the employer comes
    from the path or the stored need, so ``employer_id`` may be left out (if given, it must agree)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{k: v for k, v in _VACANCY_EXAMPLE.items() if k != "employer_id"}]}
    )

    employer_id: int | None = Field(default=None, ge=1)  # type: ignore[assignment]


class VacancyPublic(_Stored, Vacancy):
    pass


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int


class BulkResult(BaseModel):
    ids: list[int] = Field(description="ids of the created items, in the order they were sent")
    count: int


class BulkItemError(BaseModel):
    index: int = Field(description="0-based position of the item in the request")
    field: str = Field(description="JSON path of the offending value inside the item, e.g. 'skills.0.label'")
    reason: str


class BulkErrorBody(BaseModel):
    """Why a bulk upload was refused. Item errors come in ``errors``; an unreadable body or a bad header is
    described in ``detail`` alone (for headers in pydantic's list shape, as on every other route)."""

    detail: str | list[dict[str, Any]]
    errors: list[BulkItemError] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------- matching


class Ranked(BaseModel):
    """What every ranked result carries, whichever side it names: its place, the score, the component scores, the
    gates it hit and the explanation (see docs/scoring.md)."""

    rank: int = Field(ge=1)
    score: float
    components: dict[str, float]
    gates: list[str]
    explanation: Explanation


class CandidateResult(Ranked):
    """A ranked citizen, as consultants see it."""

    citizen_id: int
    external_ref: str


class AnonymousCandidate(Ranked):
    """A ranked citizen, as an employer sees it: a handle that is stable for this need only, no identity."""

    candidate: str = Field(description="pseudonymous handle, stable per (vacancy, citizen)")


class CandidateList(BaseModel):
    audience: Literal["consultant"] = "consultant"
    results: list[CandidateResult]
    limit: int
    offset: int


class AnonymousCandidateList(BaseModel):
    audience: Literal["employer"] = "employer"
    results: list[AnonymousCandidate]
    limit: int
    offset: int


class SearchRequest(BaseModel):
    """An ad-hoc need (not stored) and the list to return."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"need": _VACANCY_EXAMPLE, "limit": 20, "offset": 0}]}
    )

    need: VacancyCreate
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)
    radius_km: float | None = Field(None, gt=0, le=1000)
    target_groups: list[TargetGroup] | None = None
    min_score: float = Field(0, ge=0, le=1)


class SearchResult(CandidateList):
    need: VacancyCreate = Field(description="the need as the server resolved it (chosen URIs, confidence)")


class MatchResult(Ranked):
    """A ranked need for a citizen."""

    need_id: int
    employer_id: int
    title: str
    kind: NeedKind


class MatchList(BaseModel):
    results: list[MatchResult]
    limit: int
    offset: int


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kind": "interviewed", "reason": "samtale 3. juni"}]}
    )

    kind: FeedbackKind
    reason: str | None = Field(None, max_length=2000)


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    citizen_id: int
    need_id: int
    kind: FeedbackKind
    reason: str | None
    created_at: dt.datetime


# --------------------------------------------------------------------------------------------- taxonomy


class NormalizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "truckfører", "limit": 5}]})

    text: str = Field(min_length=1, max_length=500)
    limit: int = Field(10, ge=1, le=50)
    lang: Literal["da", "en"] | None = Field(None, description="restrict to labels in this language")


class Candidate(BaseModel):
    uri: str
    label: str
    score: float


class NormalizeResponse(BaseModel):
    results: list[Candidate]


class ExtractRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "Vi søger en lagermedarbejder med truckcertifikat."}]},
    )

    text: str = Field(min_length=1, max_length=20_000)


class SkillSpanOut(BaseModel):
    uri: str
    label: str
    score: float
    start: int
    end: int


class ExtractResponse(BaseModel):
    skills: list[SkillSpanOut]


# --------------------------------------------------------------------------------------------- audit, export, misc


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    key_id: int | None
    action: str
    purpose: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    undisclosed = "undisclosed"


OLDEST_BIRTH_YEAR = 1900
YOUNGEST_AGE = 14
"""``birth_year`` must lie between ``OLDEST_BIRTH_YEAR`` and this year minus ``YOUNGEST_AGE``."""


class AuditAttributesIn(BaseModel):
    """Protected attributes held for fairness audits only: never part of the profile, never scored on, never
    shown to employers. Each is optional (null: not supplied); sending all three as null deletes them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"gender": "female", "birth_year": 1988, "origin_country": "SY"}]},
    )

    gender: Gender | None = None
    birth_year: int | None = Field(
        None, description=f"four-digit year, from {OLDEST_BIRTH_YEAR} to this year minus {YOUNGEST_AGE}"
    )
    origin_country: CountryCode | None = Field(None, description="ISO 3166-1 alpha-2 country of origin, e.g. 'DK'")

    @field_validator("birth_year")
    @classmethod
    def _sane_year(cls, value: int | None) -> int | None:
        latest = dt.date.today().year - YOUNGEST_AGE
        if value is not None and not OLDEST_BIRTH_YEAR <= value <= latest:
            raise ValueError(f"birth_year must be between {OLDEST_BIRTH_YEAR} and {latest}, got {value}")
        return value


class AuditAttributesPublic(AuditAttributesIn):
    citizen_id: int
    updated_at: dt.datetime | None = Field(description="when they were last set; null when none are held")


class CitizenExport(BaseModel):
    """Everything held about one citizen (GDPR art. 15): the profile, feedback on their matches, the audit
    entries about them, and the protected attributes held for fairness audits (null when none)."""

    citizen: CitizenPublic
    feedback: list[FeedbackPublic]
    audit: list[AuditPublic]
    audit_attributes: AuditAttributesPublic | None = None


class ErrorBody(BaseModel):
    detail: str
    field: str | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
