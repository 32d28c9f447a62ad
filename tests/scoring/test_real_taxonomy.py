"""The issue's cases on the real ESCO taxonomy and the curated Danish regulated-professions list."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from matcher.config import ScoringPolicy, get_settings
from matcher.domain import Citizen, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.scoring import Gate, RuleScorer, explain
from matcher.taxonomy import Postcodes, Taxonomy, load_postcodes, load_taxonomy

pytestmark = pytest.mark.slow

ESCO = "http://data.europa.eu/esco/occupation/"
NURSE = ESCO + "8d3e8aaa-791b-4c75-a465-f3f827028f50"  # nurse responsible for general care
SOSU_HELPER = ESCO + "1391bdf9-bd61-4fb5-91ca-c29036ab2b60"  # home care aide / social- og sundhedshjælper
NURSE_ASSISTANT = ESCO + "87d0795a-d41f-47ee-979f-0ab7d73836e7"  # nurse assistant / sygehjælper
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def real() -> tuple[Taxonomy, Postcodes]:
    return load_taxonomy(), load_postcodes(get_settings().data_dir)


def profile_skills(taxonomy: Taxonomy, occupation: str) -> list[str]:
    row = taxonomy.occupation_row[occupation]
    lo, hi = taxonomy.occ_essential.indptr[row], taxonomy.occ_essential.indptr[row + 1]
    return [taxonomy.skill_uris[c] for c in taxonomy.occ_essential.indices[lo:hi]]


def syrian_nurse(taxonomy: Taxonomy) -> Citizen:
    skills = profile_skills(taxonomy, NURSE)
    return Citizen.model_validate(
        {
            "external_ref": "n1",
            "target_group": "integration",
            "postcode": "4200",
            "skills": [{"uri": u, "provenance": "from_qualification"} for u in skills],
            "occupations": [{"uri": NURSE, "years": 8}],
            "qualifications": [{"title": "Bachelor of Nursing", "country": "SY", "eqf_level": 6,
                                "recognition": "undocumented", "occupation_uri": NURSE}],
            "languages": [{"language": "da", "cefr": "B1", "school_weekdays": ["tue", "thu"]}],
        }
    )  # fmt: skip


def job(occupation: str, title: str) -> Vacancy:
    return Vacancy.model_validate(
        {"employer_id": 1, "title": title, "occupation_uri": occupation, "postcode": "4220", "hours_per_week": 22}
    )


def test_real_regulated_flags(real: tuple[Taxonomy, Postcodes]) -> None:
    taxonomy, _ = real
    assert taxonomy.occupation_regulated[taxonomy.occupation_row[NURSE]]
    assert not taxonomy.occupation_regulated[taxonomy.occupation_row[SOSU_HELPER]]
    assert not taxonomy.occupation_regulated[taxonomy.occupation_row[NURSE_ASSISTANT]]


def test_undocumented_nurse_on_real_esco(real: tuple[Taxonomy, Postcodes]) -> None:
    taxonomy, postcodes = real
    policy = ScoringPolicy()
    nurse = syrian_nurse(taxonomy)
    needs = [job(NURSE, "Sygeplejerske"), job(SOSU_HELPER, "SOSU-hjælper"), job(NURSE_ASSISTANT, "Sygehjælper")]
    cf = CitizenFeatures.build([(1, nurse)], taxonomy, postcodes, policy, TODAY)
    nf = NeedFeatures.build(list(enumerate(needs, 1)), taxonomy, postcodes, policy, TODAY)
    block = RuleScorer(policy, taxonomy).score_block(cf, np.arange(1), nf, np.arange(3))
    assert block.gates[0, 0] == Gate.REGULATED_PROFESSION and block.total[0, 0] == 0
    assert (block.gates[0, 1:] == 0).all()
    assert block.components["skills"][0, 0] > 0.5  # she has the nurse's skills: only the gate stops her
    # nurse assistant (sygehjælper) shares 30 of its 36 ESCO essential skills with the nurse profile
    assert block.total[0, 2] > 0.5
    # ESCO's home-care-aide profile is mostly household tasks (1 of 23 essential skills shared with the nurse
    # profile), so the skills score is low there, but she is proposed (no gate, positive score)
    assert block.total[0, 1] > 0.3
    comps = {k: float(v[0, 0]) for k, v in block.components.items()}
    e = explain(nurse, needs[0], comps, int(block.gates[0, 0]), taxonomy, postcodes, policy)
    assert e.da[0] == "Sygeplejerske er et reguleret erhverv i Danmark: kræver dansk autorisation"
    assert "Uddannelse fra Syrien (EQF 6) er ikke godkendt endnu og tæller med nedsat vægt" in e.da
    comps = {k: float(v[0, 1]) for k, v in block.components.items()}
    e = explain(nurse, needs[1], comps, int(block.gates[0, 1]), taxonomy, postcodes, policy)
    assert "Sprogskole tirsdag og torsdag passer med arbejdsdagene" in e.da
    assert any(s.startswith("Lives ") and "km from the workplace" in s for s in e.en)


def test_regulated_experience_counts_for_unregulated_neighbours(real: tuple[Taxonomy, Postcodes]) -> None:
    """data/regulated_neighbours_dk.csv: a nurse's years count as experience for home-care-aide jobs, so the
    undocumented nurse ranks above a citizen with the same skills but no care background."""
    taxonomy, postcodes = real
    policy = ScoringPolicy()
    nurse = syrian_nurse(taxonomy)
    newcomer = nurse.model_copy(update={"occupations": [], "qualifications": []})
    needs = [job(SOSU_HELPER, "SOSU-hjælper"), job(NURSE_ASSISTANT, "Sygehjælper")]
    cf = CitizenFeatures.build([(1, nurse), (2, newcomer)], taxonomy, postcodes, policy, TODAY)
    nf = NeedFeatures.build(list(enumerate(needs, 1)), taxonomy, postcodes, policy, TODAY)
    block = RuleScorer(policy, taxonomy).score_block(cf, np.arange(2), nf, np.arange(2))
    experience = block.components["experience"]
    assert experience[0, 0] == pytest.approx(policy.experience_regulated_neighbour)
    assert experience[0, 1] == pytest.approx(policy.experience_regulated_neighbour)
    assert (experience[1] == 0).all()
    assert (block.total[0] > block.total[1]).all()
    assert (block.gates == 0).all()


def test_one_need_and_one_citizen_blocks_equal_the_wide_block(real: tuple[Taxonomy, Postcodes]) -> None:
    """The interactive queries (one need against many citizens, one citizen against many needs) take other
    product and dedup paths than the nightly run's wide blocks; on realistic data every value must be the same."""
    from matcher.synthetic import generate

    taxonomy, postcodes = real
    policy = ScoringPolicy()
    world = generate(400, 40, seed=5, today=TODAY)
    cf = CitizenFeatures.build(list(enumerate(world.citizens, 1)), taxonomy, postcodes, policy, TODAY)
    nf = NeedFeatures.build(list(enumerate(world.vacancies, 1)), taxonomy, postcodes, policy, TODAY)
    scorer = RuleScorer(policy, taxonomy)
    wide = scorer.score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))
    assert wide.components["skills"].any() and wide.components["experience"].any()
    subset = np.sort(np.random.default_rng(1).choice(cf.n, cf.n // 2, replace=False))
    blocks = [(np.arange(cf.n), np.array([j])) for j in range(nf.n)]
    blocks += [(subset, np.arange(j, j + 3)) for j in range(0, nf.n - 3, 3)]  # a few needs, part of the rows
    blocks += [(np.array([i]), np.arange(nf.n)) for i in range(0, cf.n, 7)]  # one citizen, every need
    for c_rows, n_rows in blocks:
        part = scorer.score_block(cf, c_rows, nf, n_rows)
        sel = np.ix_(c_rows, n_rows)
        assert np.array_equal(part.total, wide.total[sel])
        assert np.array_equal(part.gates, wide.gates[sel])
        for name, values in wide.components.items():
            assert np.array_equal(np.asarray(part.components[name]), values[sel]), name


def test_explaining_with_the_need_worked_out_once_says_the_same(real: tuple[Taxonomy, Postcodes]) -> None:
    """A ranked list explains many citizens against one need with ``need_text`` computed once; every sentence must
    be what a standalone explanation of the pair says."""
    from matcher.scoring import need_text
    from matcher.synthetic import generate

    taxonomy, postcodes = real
    policy = ScoringPolicy()
    world = generate(60, 12, seed=9, today=TODAY)
    cf = CitizenFeatures.build(list(enumerate(world.citizens, 1)), taxonomy, postcodes, policy, TODAY)
    nf = NeedFeatures.build(list(enumerate(world.vacancies, 1)), taxonomy, postcodes, policy, TODAY)
    block = RuleScorer(policy, taxonomy).score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))
    for j, need in enumerate(world.vacancies):
        about = need_text(need, taxonomy, postcodes)
        for i, citizen in enumerate(world.citizens):
            comps = {k: float(v[i, j]) for k, v in block.components.items()}
            gates = int(block.gates[i, j])
            alone = explain(citizen, need, comps, gates, taxonomy, postcodes, policy)
            assert explain(citizen, need, comps, gates, taxonomy, postcodes, policy, about) == alone
            assert 2 <= len(alone.da) <= 5
