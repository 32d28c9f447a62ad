"""Every validation rule of the domain models, with the field it must name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from matcher.domain import (
    CEFR,
    Citizen,
    DrivingLicence,
    Employer,
    NeedKind,
    Vacancy,
    cefr_rank,
    licence_closure,
)

NURSE = "http://data.europa.eu/esco/occupation/1391bdf9-bd61-4fb5-91ca-c29036ab2b60"


def citizen(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"external_ref": "SAG-1", "target_group": "integration", "postcode": "4200"}
    base.update(overrides)
    return base


def vacancy(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"employer_id": 1, "title": "Lagermedarbejder", "postcode": "4200"}
    base.update(overrides)
    return base


def error_of(model: type, data: dict[str, Any]) -> tuple[str, str]:
    """(dotted location, message) of the single validation error."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(p) for p in errors[0]["loc"]), errors[0]["msg"]


def test_full_citizen_round_trips_through_json() -> None:
    data = citizen(
        name="Amal",
        location={"lat": 55.4, "lon": 11.35},
        max_commute_km=25,
        hours={"min": 10, "max": 20},
        available_from="2026-12-01",
        skills=[{"label": "gaffeltruck", "provenance": "assessed", "years": 2}],
        occupations=[{"uri": NURSE, "years": 6}],
        qualifications=[
            {"title": "Nursing BSc", "country": "sy", "eqf_level": 6, "recognition": "undocumented",
             "occupation_uri": NURSE}
        ],
        languages=[{"language": "DA", "cefr": "b1", "school_weekdays": ["Tue", "thu"]}],
        driving_licences=["b", "B", "CE"],
        work_restrictions=["no heavy lifting"],
        consent_share_with_employers=True,
    )
    c = Citizen.model_validate(data)
    assert c.qualifications[0].country == "SY"
    assert c.languages[0].language == "da"
    assert c.languages[0].cefr is CEFR.B1
    assert [d.value for d in c.languages[0].school_weekdays] == ["tue", "thu"]
    assert c.driving_licences == [DrivingLicence.B, DrivingLicence.CE]
    assert Citizen.model_validate_json(c.model_dump_json()) == c


@pytest.mark.parametrize(
    ("alias", "level"), [("PD1", CEFR.A2), ("pd2", CEFR.B1), ("PD3", CEFR.B2), ("Studieprøven", CEFR.C1)]
)
def test_danish_test_names_map_to_cefr(alias: str, level: CEFR) -> None:
    c = Citizen.model_validate(citizen(languages=[{"language": "da", "cefr": alias}]))
    assert c.languages[0].cefr is level


def test_postcode_given_as_number_is_zero_padded() -> None:
    assert Citizen.model_validate(citizen(postcode=800)).postcode == "0800"


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (citizen(postcode="42000"), "postcode", "4 digits"),
        (citizen(postcode="42a0"), "postcode", "4 digits"),
        (citizen(target_group="unemployed"), "target_group", "Input should be"),
        (citizen(languages=[{"language": "da", "cefr": "B3"}]), "languages.0.cefr", "Input should be"),
        (citizen(languages=[{"language": "xx", "cefr": "B1"}]), "languages.0.language", "ISO 639-1"),
        (citizen(languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tue", "tue"]}]),
         "languages.0.school_weekdays", "repeat"),
        (citizen(languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tirsdag"]}]),
         "languages.0.school_weekdays.0", "Input should be"),
        (citizen(qualifications=[{"title": "x", "eqf_level": 9}]), "qualifications.0.eqf_level", "less than"),
        (citizen(qualifications=[{"title": "x", "eqf_level": 0}]), "qualifications.0.eqf_level", "greater than"),
        (citizen(qualifications=[{"title": "x", "eqf_level": 4, "country": "XX"}]),
         "qualifications.0.country", "ISO 3166"),
        (citizen(qualifications=[{"title": "x", "eqf_level": 4, "recognition": "maybe"}]),
         "qualifications.0.recognition", "Input should be"),
        (citizen(skills=[{"provenance": "assessed"}]), "skills.0", "either 'uri'"),
        (citizen(skills=[{"label": "x", "provenance": "rumour"}]), "skills.0.provenance", "Input should be"),
        (citizen(skills=[{"uri": "http://example.com/skill/1"}]), "skills.0.uri", "pattern"),
        (citizen(occupations=[{"years": 2}]), "occupations.0", "either 'uri'"),
        (citizen(hours={"min": 30, "max": 10}), "hours", "above hours.max"),
        (citizen(hours={"min": 0, "max": 100}), "hours.max", "less than"),
        (citizen(max_commute_km=0), "max_commute_km", "greater than"),
        (citizen(max_commute_km=float("nan")), "max_commute_km", "finite"),
        (citizen(driving_licences=["Z"]), "driving_licences.0", "Input should be"),
        (citizen(location={"lat": 40.0, "lon": 11.0}), "location.lat", "greater than"),
        (citizen(postcode=None), "", "postcode"),
        (citizen(languages=[{"language": "da", "cefr": "B1"}, {"language": "DA", "cefr": "B2"}]),
         "languages", "only once"),
        (citizen(unknown_field=1), "unknown_field", "Extra inputs"),
        (citizen(available_from="not a date"), "available_from", "date"),
    ],
)
def test_citizen_validation_names_the_field(data: dict[str, Any], loc: str, message: str) -> None:
    got_loc, got_msg = error_of(Citizen, data)
    assert got_loc == loc
    assert message in got_msg


def test_hybrid_slot_hours_fill_hours_per_week() -> None:
    v = Vacancy.model_validate(
        vacancy(kind="hybrid_internship", hybrid={"paid_hours": 12, "internship_hours": 18, "weeks": 13})
    )
    assert v.hours_per_week == 30
    assert v.kind is NeedKind.hybrid_internship


def test_vacancy_defaults_to_weekdays_mon_to_fri() -> None:
    v = Vacancy.model_validate(vacancy())
    assert [d.value for d in v.weekdays] == ["mon", "tue", "wed", "thu", "fri"]


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (vacancy(kind="hybrid_internship"), "", "needs 'hybrid'"),
        (vacancy(kind="hybrid_internship", hours_per_week=37,
                 hybrid={"paid_hours": 10, "internship_hours": 20, "weeks": 8}), "", "must equal hours_per_week"),
        (vacancy(kind="ordinary", hybrid={"paid_hours": 10, "internship_hours": 20, "weeks": 8}), "",
         "only for kind 'hybrid_internship'"),
        (vacancy(kind="hybrid_internship", hybrid={"paid_hours": 0, "internship_hours": 0, "weeks": 8}),
         "hybrid", "above 0"),
        (vacancy(kind="hybrid_internship", hybrid={"paid_hours": 10, "internship_hours": 10, "weeks": 0}),
         "hybrid.weeks", "greater than"),
        (vacancy(kind="parttime"), "kind", "Input should be"),
        (vacancy(min_eqf_level=9), "min_eqf_level", "less than"),
        (vacancy(languages=[{"language": "da", "cefr": "D1"}]), "languages.0.cefr", "Input should be"),
        (vacancy(start_date="2026-12-10", expires="2026-12-01"), "", "before 'start_date'"),
        (vacancy(weekdays=[]), "", "at least one"),
        (vacancy(hours_per_week=0), "", "above 0"),
        (vacancy(positions=-1), "positions", "greater than"),
        (vacancy(employer_id=0), "employer_id", "greater than"),
        (vacancy(title=""), "title", "at least 1"),
        (vacancy(description="x" * 20_001), "description", "at most 20000"),
        (vacancy(essential_skills=[{}]), "essential_skills.0", "either 'uri'"),
        (vacancy(postcode="999"), "postcode", "4 digits"),
        (vacancy(languages=[{"language": "da", "cefr": "B1"}, {"language": "da", "cefr": "B2", "hard": True}]),
         "", "only once"),
    ],
)
def test_vacancy_validation_names_the_field(data: dict[str, Any], loc: str, message: str) -> None:
    got_loc, got_msg = error_of(Vacancy, data)
    assert got_loc == loc
    assert message in got_msg


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"name": "Fakta", "cvr": "1234567", "postcode": "4200"}, "cvr"),
        ({"name": "Fakta", "cvr": "12345678", "postcode": "42"}, "postcode"),
        ({"name": "", "cvr": "12345678", "postcode": "4200"}, "name"),
    ],
)
def test_employer_validation(data: dict[str, Any], loc: str) -> None:
    assert error_of(Employer, data)[0] == loc


def test_cefr_rank_orders_levels() -> None:
    assert [cefr_rank(level) for level in CEFR] == [1, 2, 3, 4, 5, 6]
    assert cefr_rank(None) == 0


def test_licence_closure_follows_the_directive() -> None:
    ce = licence_closure({DrivingLicence.CE})
    assert {DrivingLicence.C, DrivingLicence.B, DrivingLicence.BE} <= ce
    assert DrivingLicence.D not in ce
    assert licence_closure({DrivingLicence.B}) == {DrivingLicence.B, DrivingLicence.AM}


def test_start_and_expiry_dates_parse() -> None:
    v = Vacancy.model_validate(vacancy(start_date="2026-12-01", expires="2027-01-31"))
    assert v.start_date == dt.date(2026, 12, 1)


def test_held_skills_follow_a_copy_with_other_skills() -> None:
    forklift = "http://data.europa.eu/esco/skill/forklift"
    c = Citizen.model_validate(citizen(skills=[{"uri": forklift}]))
    assert c.held_skills == {forklift}  # computed and cached on c
    assert c.model_copy(update={"skills": []}).held_skills == frozenset()
    assert c.model_copy().held_skills == {forklift} and c.held_skills == {forklift}


def test_pickles_leave_cached_values_behind() -> None:
    import pickle

    forklift = "http://data.europa.eu/esco/skill/forklift"
    c = Citizen.model_validate(
        {"external_ref": "c", "target_group": "jobparat", "postcode": "4200", "skills": [{"uri": forklift}]}
    )
    assert c.held_skills == {forklift}
    c.derived["explanations"] = object()
    copy = pickle.loads(pickle.dumps(c))
    assert copy == c
    assert "held_skills" not in copy.__dict__ and "derived" not in copy.__dict__
    assert copy.held_skills == {forklift} and copy.derived == {}
    assert c.derived  # the original keeps its own
