"""Engine-level cases from the issue on the real ESCO taxonomy: school days and flexjob hours decide the ranking
of otherwise equal citizens, and the result lists respect it."""

from __future__ import annotations

from typing import Any

import pytest

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, NeedKind, Vacancy
from matcher.ranking import MatchEngine, NeedFilter
from matcher.taxonomy import Postcodes, Taxonomy, get_taxonomy
from tests.ranking.conftest import TODAY

SOSU_HELPER = "http://data.europa.eu/esco/occupation/1391bdf9-bd61-4fb5-91ca-c29036ab2b60"


@pytest.fixture(scope="module")
def real_taxonomy() -> Taxonomy:
    return get_taxonomy()


@pytest.fixture(scope="module")
def sosu_skills(real_taxonomy: Taxonomy) -> list[str]:
    row = real_taxonomy.occupation_row[SOSU_HELPER]
    cols = real_taxonomy.occ_essential[row].indices
    assert len(cols) >= 3
    return [real_taxonomy.skill_uris[c] for c in cols]


def person(skills: list[str], **overrides: Any) -> Citizen:
    data: dict[str, Any] = {
        "external_ref": "x",
        "target_group": "integration",
        "postcode": "4200",
        "skills": [{"uri": uri, "provenance": "assessed"} for uri in skills],
        "occupations": [{"uri": SOSU_HELPER, "years": 3}],
        "languages": [{"language": "da", "cefr": "B1"}],
    }
    data.update(overrides)
    return Citizen.model_validate(data)


def job(**overrides: Any) -> Vacancy:
    data: dict[str, Any] = {
        "employer_id": 1,
        "title": "SOSU-hjælper",
        "occupation_uri": SOSU_HELPER,
        "postcode": "4200",
        "hours_per_week": 37,
    }
    data.update(overrides)
    return Vacancy.model_validate(data)


def engine_with(
    real_taxonomy: Taxonomy, postcodes: Postcodes, citizens: dict[int, Citizen], needs: dict[int, Vacancy]
) -> MatchEngine:
    engine = MatchEngine(real_taxonomy, postcodes, ScoringPolicy(), today=TODAY)
    engine.bulk_load(citizens.items(), needs.items())
    return engine


def test_school_days_that_fit_rank_above_clashing_ones(
    real_taxonomy: Taxonomy, postcodes: Postcodes, sosu_skills: list[str]
) -> None:
    def schooled(days: list[str]) -> Citizen:
        return person(sosu_skills, languages=[{"language": "da", "cefr": "B1", "school_weekdays": days}])

    # id order works against the expected order, so only the schedule can put 2 first
    citizens = {1: schooled(["mon", "wed"]), 2: schooled(["tue", "thu"])}
    needs = {10: job(weekdays=["mon", "wed", "fri"], kind="hybrid_internship",
                     hours_per_week=22, hybrid={"paid_hours": 12, "internship_hours": 10, "weeks": 12})}  # fmt: skip
    engine = engine_with(real_taxonomy, postcodes, citizens, needs)
    ranked = engine.candidates(10)
    assert [m.citizen_id for m in ranked] == [2, 1]
    assert ranked[0].score > ranked[1].score
    assert ranked[0].components["schedule"] > ranked[1].components["schedule"]
    assert all(m.components["skills"] == ranked[0].components["skills"] for m in ranked)
    slots = engine.matches_for_citizen(2, filters=NeedFilter(kinds={NeedKind.hybrid_internship}))
    assert [m.need_id for m in slots] == [10]


def test_six_hour_flexjob_citizen_is_not_proposed_for_37_hours(
    real_taxonomy: Taxonomy, postcodes: Postcodes, sosu_skills: list[str]
) -> None:
    citizens = {
        1: person(sosu_skills, target_group="ledighedsydelse", hours={"min": 4, "max": 6}),
        2: person(sosu_skills, target_group="jobparat"),
    }
    needs = {20: job(hours_per_week=37), 21: job(kind="flexjob", hours_per_week=6)}
    engine = engine_with(real_taxonomy, postcodes, citizens, needs)
    assert [m.citizen_id for m in engine.candidates(20)] == [2]
    assert 1 in [m.citizen_id for m in engine.candidates(21)]
    assert [m.need_id for m in engine.matches_for_citizen(1)] == [21]
    gated = engine.explain_pair(1, 20)
    assert "hours" in gated.gates and gated.score == 0
    top = engine.score_all(5)
    assert 1 not in top.need_citizen_ids[top.need_ids.tolist().index(20)].tolist()
