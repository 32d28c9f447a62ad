"""Explanations: 2–5 sentences, Danish and English in step, the deciding facts first."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, Explanation, Vacancy
from matcher.scoring import RuleScorer, explain
from matcher.taxonomy import Postcodes, Taxonomy
from tests.scoring import toy


def explain_pairs(
    citizens: list[Citizen], needs: list[Vacancy], taxonomy: Taxonomy, postcodes: Postcodes
) -> list[list[Explanation]]:
    policy = ScoringPolicy()
    cf, nf = toy.build(citizens, needs, taxonomy, policy)
    block = RuleScorer(policy, taxonomy).score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))
    return [
        [
            explain(
                c,
                n,
                {k: float(v[i, j]) for k, v in block.components.items()},
                int(block.gates[i, j]),
                taxonomy,
                postcodes,
                policy,
            )
            for j, n in enumerate(needs)
        ]
        for i, c in enumerate(citizens)
    ]


def check_shape(e: Explanation) -> None:
    assert 2 <= len(e.da) <= 5
    assert len(e.en) == len(e.da)
    assert all(s and s == s.strip() for s in e.da + e.en)


def test_undocumented_nurse(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    nurse_job = toy.vacancy(occupation_uri=toy.occ("nurse"), title="Sygeplejerske")
    ((nurse, sosu),) = explain_pairs([toy.nurse_from_syria()], [nurse_job, toy.vacancy()], taxonomy, postcodes)
    check_shape(nurse)
    check_shape(sosu)
    assert nurse.da[0] == "Sygeplejerske er et reguleret erhverv i Danmark: kræver dansk autorisation"
    assert nurse.en[0].startswith("Nurse responsible for general care is a regulated profession in Denmark")
    assert "reguleret" not in " ".join(sosu.da)
    assert sosu.da[0] == "Har 3 af 3 nødvendige kompetencer (fra ESCO-profilen for social- og sundhedshjælper)"
    assert sosu.en[0] == "Has 3 of 3 essential skills (from the ESCO profile of home care aide)"
    foreign_da = "Uddannelse fra Syrien (EQF 6) er ikke godkendt endnu og tæller med nedsat vægt"
    foreign_en = "Qualification from Syria (EQF 6) is not recognised yet and counts with reduced weight"
    assert foreign_da in sosu.da and foreign_en in sosu.en
    assert sosu.da.index(foreign_da) == sosu.en.index(foreign_en)


def test_school_days(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    learner = toy.citizen(
        languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tue", "thu"]}], skills=toy.skills("hygiene")
    )
    ((fits, clashes),) = explain_pairs(
        [learner], [toy.vacancy(hours_per_week=22), toy.vacancy(hours_per_week=37)], taxonomy, postcodes
    )
    check_shape(fits)
    assert "Sprogskole tirsdag og torsdag passer med arbejdsdagene" in fits.da
    assert "Language school on Tuesday and Thursday fits the working days" in fits.en
    assert "Sprogskole tirsdag og torsdag falder på arbejdsdage" in clashes.da
    assert "Language school on Tuesday and Thursday falls on working days" in clashes.en


def test_unknown_postcode_and_distance(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    nowhere, korsor = toy.citizen(postcode="9999"), toy.citizen(postcode="4220", max_commute_km=40)
    (a,), (b,) = explain_pairs([nowhere, korsor], [toy.vacancy()], taxonomy, postcodes)
    check_shape(a)
    assert "Postnummer ukendt: afstand ikke vurderet" in a.da
    assert "Postcode unknown: distance not assessed" in a.en
    assert "Bor 16 km fra arbejdspladsen (maks. 40 km)" in b.da
    assert "Lives 16 km from the workplace (max. 40 km)" in b.en


def test_gates_come_first(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    flex = toy.citizen(hours={"min": 4, "max": 6}, languages=[{"language": "da", "cefr": "A2"}])
    needs = [
        toy.vacancy(hours_per_week=37),
        toy.vacancy(languages=[{"language": "da", "cefr": "B2", "hard": True}], hours_per_week=5),
        toy.vacancy(driving_licences=["C"], hours_per_week=5, postcode="2100"),
    ]
    ((hours, lang, far),) = explain_pairs([flex], needs, taxonomy, postcodes)
    assert hours.da[0] == "Kan arbejde 4–6 timer om ugen; jobbet er på 37 timer"
    assert lang.da[0] == "Dansk på niveau A2; jobbet kræver B2 (ufravigeligt krav)"
    assert lang.en[0] == "Danish at level A2; the job asks for B2 (a firm requirement)"
    assert far.da[0] == "Kræver kørekort C, som mangler"
    assert far.en[1].startswith("Lives ") and "(max. 30 km)" in far.en[1]


def test_optional_only_need_still_gets_two_sentences(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    need = toy.vacancy(occupation_uri=None, title="Hjælper", optional_skills=[{"uri": toy.sk("hygiene")}])
    ((e,),) = explain_pairs([toy.citizen(skills=toy.skills("hygiene"))], [need], taxonomy, postcodes)
    check_shape(e)
    assert "Har 1 af 1 ønskede kompetencer" in e.da and "Has 1 of 1 optional skills" in e.en


def test_falls_back_on_the_overall_score(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    # only a language skill listed: no skills sentence; the distance alone would be one sentence
    need = toy.vacancy(occupation_uri=None, title="x", essential_skills=[{"uri": toy.sk("danish")}])
    components = {"skills": 0.0, "experience": 0.0, "qualification": 1.0, "language": 1.0, "schedule": 1.0,
                  "geography": 1.0, "availability": 1.0, "overqualification": 0.0}  # fmt: skip
    e = explain(toy.citizen(), need, components, 0, taxonomy, postcodes, ScoringPolicy())
    check_shape(e)
    assert e.da[-1] == "Samlet vurdering: 50 %" and e.en[-1] == "Overall score: 50 %"


def test_related_skills_count_towards_missing_essential_ones(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    # the home care aide's profile asks hygiene, assist_daily_living, communicate_patients; this citizen has none
    # of them, but clean_rooms is related to hygiene and patient_care to assist_daily_living (toy.RELATED)
    related = toy.citizen(skills=toy.skills("clean_rooms", "patient_care"))
    unrelated = toy.citizen(skills=toy.skills("drive_truck"))
    (a,), (b,) = explain_pairs([related, unrelated], [toy.vacancy()], taxonomy, postcodes)
    assert "Har 0 af 3 nødvendige kompetencer og beslægtede kompetencer til 2 mere" in a.da[0]
    assert a.en[0].startswith("Has 0 of 3 essential skills, and related skills for 2 more")
    assert b.en[0] == "Has 0 of 3 essential skills (from the ESCO profile of home care aide)"
    policy = ScoringPolicy(related_skill_credit=0.0)  # no credit for related skills: no such claim either
    components = dict.fromkeys(("skills", "experience", "qualification", "language", "schedule", "geography"), 0.5)
    e = explain(related, toy.vacancy(), components, 0, taxonomy, postcodes, policy)
    assert "related" not in " ".join(e.en)


def test_dates_read_the_same_in_any_locale() -> None:
    import datetime as dt

    from matcher.scoring._explain import _date_da, _date_en

    assert _date_en(dt.date(2026, 3, 5)) == "5 March 2026"
    assert _date_en(dt.date(2026, 12, 24)) == "24 December 2026"
    assert _date_da(dt.date(2026, 3, 5)) == "5. marts 2026"


def test_a_copied_profile_is_explained_from_its_own_values(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    # the citizen's side of the sentences is kept on the profile (Citizen.derived): a copy with other values
    # must not be explained with the original's
    korsor = toy.citizen(
        postcode="4220", max_commute_km=40, hours={"min": 4, "max": 6},
        languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tue"]}],
    )  # fmt: skip
    need = toy.vacancy(hours_per_week=37)
    ((before,),) = explain_pairs([korsor], [need], taxonomy, postcodes)
    assert korsor.derived, "the explanation keeps the citizen's side on the profile"
    moved = korsor.model_copy(
        update={
            "postcode": "9999",
            "hours": korsor.hours.model_copy(update={"min": 5, "max": 8}),
            "languages": [korsor.languages[0].model_copy(update={"school_weekdays": ["wed"]})],
        }
    )
    assert not moved.derived
    ((after,),) = explain_pairs([moved], [need], taxonomy, postcodes)
    assert "Bor 16 km fra arbejdspladsen (maks. 40 km)" in before.da
    assert "Kan arbejde 4–6 timer om ugen; jobbet er på 37 timer" in before.da
    assert "Postnummer ukendt: afstand ikke vurderet" in after.da
    assert "Kan arbejde 5–8 timer om ugen; jobbet er på 37 timer" in after.da
    assert not any("tirsdag" in s for s in after.da)
    ((again,),) = explain_pairs([korsor], [need], taxonomy, postcodes)  # the original, from its memo
    assert again == before


def test_distance_is_the_haversine_distance(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    # the explanations measure with per-point parts (point_radians): the same distance as the numpy formula
    from matcher.taxonomy import haversine_km, haversine_km_pair, haversine_km_points, point_radians

    for a, b in [((55.68, 12.57), (56.16, 10.21)), ((57.05, 9.92), (54.91, 9.79)), ((55.4, 11.35), (55.4, 11.35))]:
        km = haversine_km_points(point_radians(*a), point_radians(*b))
        assert km == haversine_km_pair(a[0], a[1], b[0], b[1])
        assert km == pytest.approx(
            float(haversine_km(np.array(a[0]), np.array(a[1]), np.array(b[0]), np.array(b[1]))), rel=1e-12, abs=1e-9
        )
