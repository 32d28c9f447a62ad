"""Small valid domain objects for the storage and API tests."""

from __future__ import annotations

from typing import Any

from matcher.domain import Citizen, Employer, Vacancy

SKILL_URI = "http://data.europa.eu/esco/skill/hygiene"
OCC_URI = "http://data.europa.eu/esco/occupation/warehouse"


def employer_json(i: int = 0) -> dict[str, Any]:
    return {"name": f"Slagelse Lager {i} ApS", "cvr": f"{10000000 + i}", "postcode": "4200", "industry": "logistik"}


def citizen_json(i: int = 0, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "external_ref": f"case-{i}",
        "name": f"Person {i}",
        "target_group": "jobparat",
        "postcode": "4200",
        "skills": [{"label": "truckkørsel", "provenance": "assessed"}, {"uri": SKILL_URI}],
        "occupations": [{"title": "lagerarbejder", "years": 3}],
        "languages": [{"language": "da", "cefr": "B1", "school_weekdays": ["tue"]}],
        "driving_licences": ["B"],
        "work_restrictions": ["no heavy lifting"],
        "consent_share_with_employers": i % 2 == 0,
    }
    doc.update(over)
    return doc


def vacancy_json(employer_id: int, i: int = 0, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "employer_id": employer_id,
        "title": f"Lagermedarbejder {i}",
        "kind": "ordinary",
        "essential_skills": [{"label": "truckkørsel"}],
        "languages": [{"language": "da", "cefr": "A2"}],
        "postcode": "4200",
        "hours_per_week": 30,
    }
    doc.update(over)
    return doc


def employer(i: int = 0) -> Employer:
    return Employer.model_validate(employer_json(i))


def citizen(i: int = 0, **over: Any) -> Citizen:
    return Citizen.model_validate(citizen_json(i, **over))


def vacancy(employer_id: int, i: int = 0, **over: Any) -> Vacancy:
    return Vacancy.model_validate(vacancy_json(employer_id, i, **over))
