"""Resolution of citizen and vacancy profiles: labels → ESCO with confidence, URIs and postcodes checked."""

from __future__ import annotations

from typing import Any

import pytest

from matcher.domain import Citizen, Vacancy
from matcher.taxonomy import Normalizer, TaxonomyInputError

OPERATE_FORKLIFT = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"
NURSE = "http://data.europa.eu/esco/occupation/8d3e8aaa-791b-4c75-a465-f3f827028f50"
UNKNOWN_SKILL = "http://data.europa.eu/esco/skill/00000000-0000-0000-0000-000000000000"
UNKNOWN_OCC = "http://data.europa.eu/esco/occupation/00000000-0000-0000-0000-000000000000"


def citizen(**extra: Any) -> Citizen:
    return Citizen.model_validate({"external_ref": "c-1", "target_group": "jobparat", "postcode": "4200", **extra})


def vacancy(**extra: Any) -> Vacancy:
    return Vacancy.model_validate({"employer_id": 1, "title": "lagerarbejder", "postcode": "4200", **extra})


def test_citizen_labels_are_resolved_and_uris_kept(normalizer: Normalizer) -> None:
    given = citizen(
        skills=[{"label": "gaffeltruck"}, {"uri": OPERATE_FORKLIFT, "provenance": "assessed"}],
        occupations=[{"title": "sygeplejerske", "years": 3}, {"uri": NURSE}],
        qualifications=[{"title": "sygeplejerske", "eqf_level": 6, "occupation_uri": NURSE}],
    )
    out = normalizer.resolve_citizen(given)
    assert given.skills[0].resolved is None  # the input is not modified
    first = out.skills[0].resolved
    assert first is not None and first.uri == OPERATE_FORKLIFT and first.confidence > 0.9
    assert out.skills[0].effective_uri == OPERATE_FORKLIFT
    assert out.skills[1].resolved is None and out.skills[1].provenance == "assessed"
    occ = out.occupations[0].resolved
    assert occ is not None and occ.uri == NURSE and occ.label == "sygeplejerske" and occ.confidence == 1.0
    assert out.occupations[0].years == 3
    assert out.occupations[1].resolved is None


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"skills": [{"label": "kundeservice"}, {"uri": UNKNOWN_SKILL}]}, "skills[1].uri", "not an ESCO skill URI"),
        ({"skills": [{"uri": NURSE}]}, "skills[0].uri", "not an ESCO skill URI"),
        ({"occupations": [{"uri": UNKNOWN_OCC}]}, "occupations[0].uri", "not an ESCO occupation URI"),
        (
            {"qualifications": [{"title": "x", "eqf_level": 3, "occupation_uri": UNKNOWN_OCC}]},
            "qualifications[0].occupation_uri",
            "not an ESCO occupation URI",
        ),
        ({"skills": [{"label": "xqzzy vbnmw"}]}, "skills[0].label", "no confident ESCO skill match"),
        ({"occupations": [{"title": "qqqq wwww"}]}, "occupations[0].title", "no confident ESCO occupation match"),
    ],
)
def test_citizen_errors_name_the_field(normalizer: Normalizer, extra: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(TaxonomyInputError) as caught:
        normalizer.resolve_citizen(citizen(**extra))
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


def test_unresolvable_label_suggests_candidates(normalizer: Normalizer) -> None:
    with pytest.raises(TaxonomyInputError, match=r"closest: '.+' \(0\.\d\d\)"):
        normalizer.resolve_citizen(citizen(skills=[{"label": "xqzzy vbnmw"}]))


def test_citizen_unknown_postcode_is_accepted(normalizer: Normalizer) -> None:
    assert normalizer.resolve_citizen(citizen(postcode="0001")).postcode == "0001"


def test_vacancy_occupation_from_title(normalizer: Normalizer) -> None:
    out = normalizer.resolve_vacancy(vacancy(title="Sygeplejerske", essential_skills=[{"label": "kundeservice"}]))
    assert out.occupation_uri == NURSE
    assert out.occupation_resolved is not None and out.occupation_resolved.confidence == 1.0
    assert out.essential_skills[0].resolved is not None


def test_vacancy_given_uri_is_kept(normalizer: Normalizer) -> None:
    out = normalizer.resolve_vacancy(vacancy(title="xqzzy", occupation_uri=NURSE))
    assert out.occupation_uri == NURSE and out.occupation_resolved is None


def test_vacancy_with_unmatched_title_but_skills_is_fine(normalizer: Normalizer) -> None:
    out = normalizer.resolve_vacancy(
        vacancy(
            title="xqzzy vbnmw",
            optional_skills=[{"uri": OPERATE_FORKLIFT}],
            essential_skills=[{"label": "gaffeltruck"}],
        )
    )
    assert out.occupation_uri is None
    assert out.essential_skills[0].resolved is not None
    assert out.essential_skills[0].resolved.uri == OPERATE_FORKLIFT


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"title": "xqzzy vbnmw"}, "essential_skills", "a need needs skills or an occupation"),
        ({"occupation_uri": UNKNOWN_OCC}, "occupation_uri", "not an ESCO occupation URI"),
        ({"postcode": "0001"}, "postcode", "unknown Danish postcode"),
        (
            {"optional_skills": [{"label": "kundeservice"}, {"label": "xqzzy vbnmw"}]},
            "optional_skills[1].label",
            "no confident ESCO skill match",
        ),
        ({"essential_skills": [{"uri": UNKNOWN_SKILL}]}, "essential_skills[0].uri", "not an ESCO skill URI"),
    ],
)
def test_vacancy_errors_name_the_field(normalizer: Normalizer, extra: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(TaxonomyInputError) as caught:
        normalizer.resolve_vacancy(vacancy(**extra))
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_repeated_labels_hit_the_cache(normalizer: Normalizer) -> None:
    first = normalizer.normalize_skill("kundeservice", limit=2)
    again = normalizer.normalize_skill("kundeservice", limit=2)
    assert first == again and first is not again  # callers get their own list
