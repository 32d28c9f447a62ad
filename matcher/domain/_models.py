"""Pydantic v2 models of citizens, needs and their parts.

The JSON field names are a contract with external systems (the municipality's case system, employers' forms):
change them only with a new API version. Models forbid unknown fields so that a typo such as ``"postcde"``
fails loudly with the field's name instead of being dropped.

Existence checks against reference data (is 4200 a real Danish postcode? is this URI in ESCO?) need data and
live in :mod:`matcher.taxonomy`; here we check shape and internal consistency only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from functools import cache, cached_property, lru_cache
from typing import Annotated, Any, Self

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from matcher.domain._enums import (
    CEFR,
    CEFR_ALIASES,
    DrivingLicence,
    NeedKind,
    Provenance,
    Recognition,
    TargetGroup,
    Weekday,
)

MAX_TEXT = 20_000
"""Longest free text (descriptions, ad texts) we accept, in characters."""


class DomainModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=False)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's copy, without the values cached by ``functools.cached_property`` (such as
        :attr:`Citizen.held_skills`): they live in the instance dict, which pydantic copies as it is, so a copy
        with other field values would have kept values computed from the old ones."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _cached_properties(type(self)):
            copied.__dict__.pop(name, None)
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        """pydantic's pickle state, without the cached values (they are worked out again where they are needed;
        :attr:`Citizen.derived` holds objects such as the postcode table that have no place in a pickle)."""
        state = super().__getstate__()
        cached = [name for name in _cached_properties(type(self)) if name in state["__dict__"]]
        if cached:
            state = {**state, "__dict__": {k: v for k, v in state["__dict__"].items() if k not in cached}}
        return state


@cache
def _cached_properties(cls: type) -> tuple[str, ...]:
    return tuple(name for klass in cls.__mro__ for name, v in vars(klass).items() if isinstance(v, cached_property))


# --------------------------------------------------------------------------------------------- field types


def _check_postcode(value: str) -> str:
    if not (len(value) == 4 and value.isdigit()):
        raise ValueError("a Danish postcode is exactly 4 digits, e.g. '4200'")
    return value


def _coerce_postcode(value: Any) -> Any:
    # Case systems export postcodes as numbers; 800 must become '0800'.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999:
        return f"{value:04d}"
    return value


Postcode = Annotated[str, BeforeValidator(_coerce_postcode), AfterValidator(_check_postcode)]


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=1)
def _language_codes() -> frozenset[str]:
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def _check_country(value: str) -> str:
    code = value.upper()
    if code not in _country_codes():
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. 'DK', 'SY', 'UA')")
    return code


def _check_language(value: str) -> str:
    code = value.lower()
    if code not in _language_codes():
        raise ValueError(f"'{value}' is not an ISO 639-1 language code (e.g. 'da', 'en', 'ar')")
    return code


def _coerce_cefr(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().upper()
        if key in CEFR_ALIASES:
            return CEFR_ALIASES[key]
        return key
    return value


def _coerce_upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _coerce_lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


CountryCode = Annotated[str, AfterValidator(_check_country)]
LanguageCode = Annotated[str, AfterValidator(_check_language)]
CefrLevel = Annotated[CEFR, BeforeValidator(_coerce_cefr)]
Licence = Annotated[DrivingLicence, BeforeValidator(_coerce_upper)]
Day = Annotated[Weekday, BeforeValidator(_coerce_lower)]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=MAX_TEXT)]
EscoUri = Annotated[str, Field(pattern=r"^http://data\.europa\.eu/esco/[a-z\-]+/[A-Za-z0-9\-._]+$", max_length=200)]
Hours = Annotated[float, Field(ge=0, le=80, allow_inf_nan=False)]
Years = Annotated[float, Field(ge=0, le=70, allow_inf_nan=False)]


def _unique_days(days: list[Weekday]) -> list[Weekday]:
    if len(set(days)) != len(days):
        raise ValueError("weekdays must not repeat")
    return days


Weekdays = Annotated[list[Day], AfterValidator(_unique_days)]


# --------------------------------------------------------------------------------------------- parts


class Location(DomainModel):
    """WGS84 coordinates. Bounds are those of the Danish realm's mainland and islands, with a margin."""

    lat: float = Field(ge=54.0, le=58.0, allow_inf_nan=False, description="latitude, degrees north")
    lon: float = Field(ge=7.5, le=15.5, allow_inf_nan=False, description="longitude, degrees east")


class HoursRange(DomainModel):
    """Hours per week a citizen can work (flexjob and sick-listed citizens often have a narrow range)."""

    min: Hours = 0
    max: Hours = 37

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"hours.min ({self.min}) is above hours.max ({self.max})")
        return self


class Resolution(DomainModel):
    """What the engine chose for a free-text label: filled in by the server, returned to the client."""

    uri: str
    label: str
    confidence: float = Field(ge=0, le=1)


class SkillRef(DomainModel):
    """A skill as an ESCO URI, or a free-text label the engine normalises."""

    uri: EscoUri | None = None
    label: ShortText | None = None
    resolved: Resolution | None = Field(
        default=None, description="set by the server: the ESCO skill chosen for `label`, with confidence"
    )

    @model_validator(mode="after")
    def _uri_or_label(self) -> Self:
        if self.uri is None and self.label is None:
            raise ValueError("give either 'uri' (an ESCO skill URI) or 'label' (free text)")
        return self

    @property
    def effective_uri(self) -> str | None:
        """The URI to score with: the given one, else the resolved one."""
        return self.uri or (self.resolved.uri if self.resolved else None)


class SkillClaim(SkillRef):
    """A skill a citizen has, with where that knowledge comes from."""

    provenance: Provenance = Provenance.self_reported
    years: Years | None = None


class OccupationClaim(DomainModel):
    """Past work: an ESCO occupation URI or a free-text job title."""

    uri: EscoUri | None = None
    title: ShortText | None = None
    years: Years | None = None
    resolved: Resolution | None = None

    @model_validator(mode="after")
    def _uri_or_title(self) -> Self:
        if self.uri is None and self.title is None:
            raise ValueError("give either 'uri' (an ESCO occupation URI) or 'title' (free text)")
        return self

    @property
    def effective_uri(self) -> str | None:
        return self.uri or (self.resolved.uri if self.resolved else None)


class Qualification(DomainModel):
    """An education or trade qualification, Danish or foreign."""

    title: ShortText
    country: CountryCode = "DK"
    eqf_level: int = Field(ge=1, le=8, description="European Qualifications Framework level, 1–8")
    field: ShortText | None = Field(default=None, description="subject field, e.g. ISCED-F name or free text")
    recognition: Recognition = Recognition.recognised
    occupation_uri: EscoUri | None = Field(
        default=None, description="the ESCO occupation this qualification leads to, when known"
    )


class LanguageSkill(DomainModel):
    """A language the citizen speaks, with level and (for Danish) language-school days."""

    language: LanguageCode
    cefr: CefrLevel
    school_weekdays: Weekdays = Field(default_factory=list, description="days at language school, e.g. ['tue','thu']")


class LanguageRequirement(DomainModel):
    language: LanguageCode
    cefr: CefrLevel
    hard: bool = Field(default=False, description="true: citizens below the level are excluded; false: penalised")


class HybridDetails(DomainModel):
    """Hybrid internship (hybridpraktik): some ordinary paid hours, the rest internship hours."""

    paid_hours: Hours
    internship_hours: Hours
    weeks: int = Field(ge=1, le=104)
    mentor: bool = False

    @model_validator(mode="after")
    def _some_hours(self) -> Self:
        if self.paid_hours + self.internship_hours <= 0:
            raise ValueError("paid_hours + internship_hours must be above 0")
        return self


# --------------------------------------------------------------------------------------------- aggregates


class Citizen(DomainModel):
    """A citizen's profile as the job centre holds it. ``name`` and ``work_restrictions`` are sensitive."""

    external_ref: ShortText = Field(description="the case id in the municipality's case system")
    name: ShortText | None = None
    target_group: TargetGroup
    postcode: Postcode | None = None
    location: Location | None = None
    max_commute_km: float = Field(default=30, gt=0, le=500, allow_inf_nan=False)
    hours: HoursRange = Field(default_factory=HoursRange)
    available_from: dt.date | None = None
    skills: list[SkillClaim] = Field(default_factory=list, max_length=500)
    occupations: list[OccupationClaim] = Field(default_factory=list, max_length=100)
    qualifications: list[Qualification] = Field(default_factory=list, max_length=50)
    languages: list[LanguageSkill] = Field(default_factory=list, max_length=20)
    driving_licences: list[Licence] = Field(default_factory=list)
    work_restrictions: list[ShortText] = Field(default_factory=list, max_length=50)
    consent_share_with_employers: bool = False

    @model_validator(mode="after")
    def _place(self) -> Self:
        if self.postcode is None and self.location is None:
            raise ValueError("give 'postcode' (4 digits) or 'location' {lat, lon} so commuting can be scored")
        return self

    @field_validator("languages")
    @classmethod
    def _one_entry_per_language(cls, value: list[LanguageSkill]) -> list[LanguageSkill]:
        seen = [lang.language for lang in value]
        if len(set(seen)) != len(seen):
            raise ValueError("each language may appear only once")
        return value

    @field_validator("driving_licences")
    @classmethod
    def _unique_licences(cls, value: list[DrivingLicence]) -> list[DrivingLicence]:
        return list(dict.fromkeys(value))

    @cached_property
    def held_skills(self) -> frozenset[str]:
        """The URIs of the skills claimed (given or resolved), computed once per profile: every explanation
        of a match needs them. Profiles are replaced, never edited in place, and :meth:`model_copy` leaves the
        cached value behind, so it cannot go stale."""
        return frozenset(uri for claim in self.skills if (uri := claim.effective_uri))

    @cached_property
    def derived(self) -> dict[object, Any]:
        """A scratch memo for values other layers derive from this profile alone (the explanations keep the
        citizen's side of their sentences here: a citizen is explained against many needs). It lives and dies
        with the profile object, so a replaced or erased profile takes its derived values with it, and
        :meth:`model_copy` starts the copy with an empty one. Keys are the deriving module's own objects."""
        return {}


class Vacancy(DomainModel):
    """An employer's need: an ordinary job, a subsidised place, an internship or a hybrid-internship slot."""

    employer_id: int = Field(ge=1)
    title: ShortText
    occupation_uri: EscoUri | None = Field(
        default=None, description="ESCO occupation; normalised from `title` when absent"
    )
    occupation_resolved: Resolution | None = Field(default=None, description="set by the server")
    description: LongText = ""
    kind: NeedKind = NeedKind.ordinary
    essential_skills: list[SkillRef] = Field(default_factory=list, max_length=200)
    optional_skills: list[SkillRef] = Field(default_factory=list, max_length=200)
    languages: list[LanguageRequirement] = Field(default_factory=list, max_length=10)
    language_support: bool = False
    min_eqf_level: int | None = Field(default=None, ge=1, le=8)
    driving_licences: list[Licence] = Field(default_factory=list)
    hours_per_week: Hours | None = None
    weekdays: Weekdays = Field(default_factory=lambda: [Weekday(d) for d in ("mon", "tue", "wed", "thu", "fri")])
    postcode: Postcode | None = None
    location: Location | None = None
    positions: int = Field(default=1, ge=0, le=10_000, description="capacity; 0 = paused")
    start_date: dt.date | None = None
    expires: dt.date | None = None
    hybrid: HybridDetails | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.postcode is None and self.location is None:
            raise ValueError("give 'postcode' (4 digits) or 'location' {lat, lon} of the workplace")
        if self.kind is NeedKind.hybrid_internship:
            if self.hybrid is None:
                raise ValueError("kind 'hybrid_internship' needs 'hybrid' {paid_hours, internship_hours, weeks}")
            total = self.hybrid.paid_hours + self.hybrid.internship_hours
            if self.hours_per_week is None:
                self.hours_per_week = total
            elif not math.isclose(total, self.hours_per_week, abs_tol=0.01):
                raise ValueError(
                    f"hybrid.paid_hours + hybrid.internship_hours ({total:g}) must equal hours_per_week "
                    f"({self.hours_per_week:g})"
                )
        elif self.hybrid is not None:
            raise ValueError(f"'hybrid' is only for kind 'hybrid_internship', not '{self.kind.value}'")
        if self.start_date and self.expires and self.expires < self.start_date:
            raise ValueError("'expires' is before 'start_date'")
        if not self.weekdays:
            raise ValueError("'weekdays' must name at least one working day")
        if self.hours_per_week is not None and self.hours_per_week <= 0:
            raise ValueError("'hours_per_week' must be above 0")
        langs = [req.language for req in self.languages]
        if len(set(langs)) != len(langs):
            raise ValueError("each language may be required only once")
        return self

    @field_validator("driving_licences")
    @classmethod
    def _unique_licences(cls, value: list[DrivingLicence]) -> list[DrivingLicence]:
        return list(dict.fromkeys(value))


class Employer(DomainModel):
    name: ShortText
    cvr: str = Field(pattern=r"^\d{8}$", description="Danish company registration number, 8 digits")
    postcode: Postcode
    industry: ShortText | None = None
