"""RuleScorer: the contract, then each component and gate on hand-made cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, Vacancy
from matcher.scoring import Gate, RuleScorer, ScoreBlock, gate_names
from matcher.taxonomy import Taxonomy, haversine_km
from tests.scoring import toy
from tests.scoring.scorer_contract import ScorerContract


class TestRuleScorerContract(ScorerContract):
    def make_scorer(self, policy: ScoringPolicy, taxonomy: Taxonomy) -> RuleScorer:
        return RuleScorer(policy, taxonomy)


def score(
    citizens: list[Citizen], needs: list[Vacancy], taxonomy: Taxonomy, policy: ScoringPolicy | None = None
) -> ScoreBlock:
    policy = policy or ScoringPolicy()
    cf, nf = toy.build(citizens, needs, taxonomy, policy)
    return RuleScorer(policy, taxonomy).score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))


def comp(block: ScoreBlock, name: str) -> np.ndarray:
    return np.asarray(block.components[name])


def with_policy(**update: Any) -> ScoringPolicy:
    return ScoringPolicy().model_copy(update=update)


# ------------------------------------------------------------------------------------------- the cases


def test_undocumented_nurse_gated_from_nurse_job_but_proposed_for_care_jobs(taxonomy: Taxonomy) -> None:
    needs = [
        toy.vacancy(occupation_uri=toy.occ("nurse"), title="Sygeplejerske"),
        toy.vacancy(occupation_uri=toy.occ("healthcare_assistant"), title="Plejer"),
        toy.vacancy(occupation_uri=toy.occ("home_care_aide"), title="SOSU-hjælper"),
    ]
    block = score([toy.nurse_from_syria("undocumented")], needs, taxonomy)
    assert gate_names(int(block.gates[0, 0])) == ["regulated_profession"]
    assert block.total[0, 0] == 0
    assert (block.gates[0, 1:] == 0).all()
    assert (block.total[0, 1:] > 0.6).all()
    assert (comp(block, "skills")[0, 1:] > 0.8).all()


def test_recognised_nurse_passes_the_regulated_gate_also_for_the_same_unit_group(taxonomy: Taxonomy) -> None:
    needs = [
        toy.vacancy(occupation_uri=toy.occ("nurse"), title="Sygeplejerske"),
        toy.vacancy(occupation_uri=toy.occ("specialist_nurse"), title="Specialsygeplejerske"),
    ]
    block = score([toy.nurse_from_syria("recognised"), toy.nurse_from_syria("partial")], needs, taxonomy)
    assert (block.gates[0] == 0).all()
    assert (block.gates[1] == Gate.REGULATED_PROFESSION).all()


def test_regulated_gate_same_for_one_need_at_a_time_and_for_a_wide_block(taxonomy: Taxonomy) -> None:
    # a few needs take the mask path, a block wider than NARROW_PRODUCT_COLUMNS the sparse product: same gates
    from matcher.scoring._rule import NARROW_PRODUCT_COLUMNS

    kinds = ["nurse", "specialist_nurse", "healthcare_assistant"]
    needs = [
        toy.vacancy(occupation_uri=toy.occ(kinds[i % len(kinds)]), title=f"Job {i}")
        for i in range(NARROW_PRODUCT_COLUMNS + 4)
    ]
    citizens = [toy.nurse_from_syria(s) for s in ("recognised", "partial", "undocumented")]
    citizens.append(toy.citizen())
    policy = ScoringPolicy()
    cf, nf = toy.build(citizens, needs, taxonomy, policy)
    scorer = RuleScorer(policy, taxonomy)
    rows = np.arange(cf.n)
    wide = scorer.score_block(cf, rows, nf, np.arange(nf.n)).gates
    one_by_one = np.hstack([scorer.score_block(cf, rows, nf, np.array([j])).gates for j in range(nf.n)])
    np.testing.assert_array_equal(wide, one_by_one)
    regulated = wide & Gate.REGULATED_PROFESSION
    assert not regulated[0].any()  # recognised: lifted for the nurse and specialist nurse needs
    assert regulated[1].any() and regulated[2].any()  # partial and undocumented papers: gated there
    assert not regulated[:, 2::3].any()  # healthcare assistant is not regulated


def test_danish_qualification_counts_as_recognised(taxonomy: Taxonomy) -> None:
    dk = toy.citizen(
        qualifications=[
            {
                "title": "Sygeplejerske",
                "country": "DK",
                "eqf_level": 6,
                "recognition": "not_assessed",
                "occupation_uri": toy.occ("nurse"),
            }
        ]
    )
    block = score([dk], [toy.vacancy(occupation_uri=toy.occ("nurse"), title="Sygeplejerske")], taxonomy)
    assert block.gates[0, 0] == 0


def test_school_on_tue_thu_beats_school_days_that_clash_with_a_mon_fri_need(taxonomy: Taxonomy) -> None:
    def learner(days: list[str]) -> Citizen:
        return toy.citizen(
            skills=toy.skills("hygiene", "assist_daily_living"),
            languages=[{"language": "da", "cefr": "B1", "school_weekdays": days}],
        )

    part_time = toy.vacancy(hours_per_week=22)  # Mon–Fri workplace, 3 days' work
    full_time = toy.vacancy(hours_per_week=37)
    mwf = toy.vacancy(hours_per_week=37, weekdays=["mon", "wed", "fri"])
    block = score([learner(["tue", "thu"]), learner(["mon", "tue", "wed"])], [part_time, full_time, mwf], taxonomy)
    sched = comp(block, "schedule")
    assert sched[0, 0] == pytest.approx(1.0)  # Tue/Thu school + 3 working days fit a Mon–Fri workplace
    assert sched[0, 2] == pytest.approx(1.0)  # … and a Mon/Wed/Fri job
    assert sched[0, 1] == pytest.approx(0.6)  # a 5-day job loses the 2 school days
    assert sched[1, 0] < sched[0, 0]  # Mon–Wed school leaves only 2 days for a 3-day job
    assert block.total[0, 0] > block.total[1, 0]
    assert block.total[0, 2] > block.total[1, 2]
    assert not block.gates.any()  # schedule_clash is a penalty by default


def test_schedule_clash_gate_when_switched_on(taxonomy: Taxonomy) -> None:
    policy = with_policy(gates=ScoringPolicy().gates.model_copy(update={"schedule_clash": True}))
    learner = toy.citizen(languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tue", "thu"]}])
    block = score([learner], [toy.vacancy(hours_per_week=37), toy.vacancy(hours_per_week=20)], taxonomy, policy)
    assert gate_names(int(block.gates[0, 0])) == ["schedule_clash"]
    assert block.gates[0, 1] == 0


def test_flexjob_six_hours_is_gated_from_37_hours(taxonomy: Taxonomy) -> None:
    flex = toy.citizen(target_group="ledighedsydelse", hours={"min": 4, "max": 6})
    needs = [
        toy.vacancy(hours_per_week=37),
        toy.vacancy(kind="flexjob", hours_per_week=6),
        toy.vacancy(hours_per_week=7.5),
        toy.vacancy(hours_per_week=9),
    ]
    block = score([flex], needs, taxonomy)
    assert gate_names(int(block.gates[0, 0])) == ["hours"] and block.total[0, 0] == 0
    assert block.gates[0, 1] == 0 and comp(block, "schedule")[0, 1] == 1.0
    assert block.gates[0, 2] == 0 and comp(block, "schedule")[0, 2] == pytest.approx(1 - 1.5 / 4)  # within tolerance
    assert block.gates[0, 3] == Gate.HOURS  # 3 h over > 2 h tolerance


def test_hybrid_internship_hours_are_paid_plus_internship(taxonomy: Taxonomy) -> None:
    c = toy.citizen(hours={"min": 10, "max": 20})
    hybrid = toy.vacancy(kind="hybrid_internship", hybrid={"paid_hours": 8, "internship_hours": 10, "weeks": 12})
    too_many = toy.vacancy(kind="hybrid_internship", hybrid={"paid_hours": 15, "internship_hours": 15, "weeks": 12})
    block = score([c], [hybrid, too_many], taxonomy)
    assert block.gates[0, 0] == 0 and comp(block, "schedule")[0, 0] == 1.0
    assert block.gates[0, 1] == Gate.HOURS


# ------------------------------------------------------------------------------------------- components


def test_skills_coverage_partial_credit_and_provenance(taxonomy: Taxonomy) -> None:
    need = toy.vacancy(
        occupation_uri=None,
        title="Rengøring",
        essential_skills=[{"uri": toy.sk("clean_rooms")}, {"uri": toy.sk("hygiene")}],
    )
    citizens = [
        toy.citizen(skills=toy.skills("clean_rooms", "hygiene", provenance="observed_in_internship")),
        toy.citizen(skills=toy.skills("clean_rooms", "hygiene", provenance="self_reported")),
        toy.citizen(skills=toy.skills("clean_rooms", provenance="observed_in_internship")),
        toy.citizen(skills=toy.skills("hygiene", provenance="observed_in_internship")),  # hygiene ~ clean_rooms
        toy.citizen(skills=toy.skills("drive_truck", provenance="observed_in_internship")),
    ]
    s = comp(score(citizens, [need], taxonomy), "skills")[:, 0]
    assert s[0] == pytest.approx(1.0)
    assert s[1] == pytest.approx(0.6)  # self-reported weight
    assert s[2] == pytest.approx(0.5)
    # hygiene is essential itself (0.5) and lends nothing extra to clean_rooms: each skill counts once
    assert s[3] == pytest.approx(0.5)
    assert s[4] == 0.0


def test_related_skill_earns_partial_credit(taxonomy: Taxonomy) -> None:
    need = toy.vacancy(occupation_uri=None, title="x", essential_skills=[{"uri": toy.sk("clean_rooms")}])
    c = toy.citizen(skills=toy.skills("hygiene", provenance="observed_in_internship"))
    block = score([c], [need], taxonomy)
    assert comp(block, "skills")[0, 0] == pytest.approx(0.1 * 0.3)  # related_skill_credit (0.1) × similarity
    none = score([c], [need], taxonomy, with_policy(related_skill_credit=0.0))
    assert comp(none, "skills")[0, 0] == 0.0


def test_optional_skills_take_their_share(taxonomy: Taxonomy) -> None:
    # healthcare assistant: 4 essential, 1 optional (first_aid) from the ESCO profile
    need = toy.vacancy(occupation_uri=toy.occ("healthcare_assistant"), title="Plejer")
    only_optional = toy.citizen(skills=toy.skills("first_aid", provenance="observed_in_internship"))
    s = comp(score([only_optional], [need], taxonomy), "skills")[0, 0]
    assert s == pytest.approx(ScoringPolicy().optional_skill_share)


def test_experience_levels(taxonomy: Taxonomy) -> None:
    need = toy.vacancy(occupation_uri=toy.occ("bus_driver"), title="Buschauffør")
    citizens = [
        toy.citizen(occupations=[{"uri": toy.occ("bus_driver"), "years": 5}]),
        toy.citizen(occupations=[{"uri": toy.occ("truck_driver"), "years": 5}]),  # 8332 vs 8331: minor group
        toy.citizen(occupations=[{"uri": toy.occ("cleaner"), "years": 5}]),
        toy.citizen(occupations=[{"uri": toy.occ("bus_driver"), "years": 0}]),
        toy.citizen(occupations=[{"uri": toy.occ("bus_driver")}, {"uri": toy.occ("truck_driver"), "years": 9}]),
    ]
    e = comp(score(citizens, [need], taxonomy), "experience")[:, 0]
    p = ScoringPolicy()
    assert e[0] == pytest.approx(1.0)
    assert e[1] == pytest.approx(p.experience_same_minor_group)
    assert e[2] == 0.0
    assert e[3] == pytest.approx(p.experience_min_factor)
    unknown = p.experience_min_factor + (1 - p.experience_min_factor) * p.experience_unknown_years / 3
    assert e[4] == pytest.approx(unknown)
    same_unit = score(
        [toy.citizen(occupations=[{"uri": toy.occ("nurse"), "years": 5}])],
        [toy.vacancy(occupation_uri=toy.occ("specialist_nurse"), title="x")],
        taxonomy,
    )
    assert comp(same_unit, "experience")[0, 0] == pytest.approx(p.experience_same_unit_group)


def test_qualification_weighted_by_recognition_and_level(taxonomy: Taxonomy) -> None:
    need = toy.vacancy(min_eqf_level=6)
    p = ScoringPolicy()

    def q(level: int, recognition: str, country: str = "SY") -> Citizen:
        return toy.citizen(
            qualifications=[{"title": "x", "country": country, "eqf_level": level, "recognition": recognition}]
        )

    citizens = [
        q(6, "recognised"),
        q(6, "pending"),
        q(6, "undocumented"),
        q(6, "rejected"),
        q(5, "recognised"),
        q(6, "undocumented", "DK"),
        toy.citizen(),
    ]
    block = score(citizens, [need], taxonomy)
    v = comp(block, "qualification")[:, 0]
    rw = p.recognition_weight
    assert v[0] == pytest.approx(1.0)
    assert v[1] == pytest.approx(rw["pending"])
    assert v[2] == pytest.approx(rw["undocumented"])
    assert v[2] > 0
    assert v[3] == pytest.approx(max(rw["rejected"], 1 - 6 * p.eqf_gap_penalty, 0))
    assert v[4] == pytest.approx(1 - p.eqf_gap_penalty)
    assert v[5] == pytest.approx(1.0)
    assert v[6] == pytest.approx(0.0)
    assert not block.gates.any()  # min_eqf_level gate is off by default
    gated = score(citizens, [need], taxonomy, with_policy(gates=p.gates.model_copy(update={"min_eqf_level": True})))
    assert [bool(g) for g in gated.gates[:, 0]] == [False, False, False, True, True, False, True]


def test_level_inferred_from_isco_when_not_stated(taxonomy: Taxonomy) -> None:
    # ISCO 2221 → major group 2 → EQF 6 by default
    uni = toy.citizen(qualifications=[{"title": "x", "country": "DK", "eqf_level": 6}])
    block = score(
        [uni, toy.citizen()],
        [toy.vacancy(occupation_uri=toy.occ("nurse"), title="x")],
        taxonomy,
        with_policy(gates=ScoringPolicy().gates.model_copy(update={"regulated_profession": False})),
    )
    assert comp(block, "qualification")[:, 0].tolist() == pytest.approx([1.0, 0.0])


def test_overqualification(taxonomy: Taxonomy) -> None:
    def q(level: int) -> Citizen:
        return toy.citizen(qualifications=[{"title": "x", "country": "DK", "eqf_level": level}])

    need = toy.vacancy(occupation_uri=toy.occ("cleaner"), title="Rengøring")  # ISCO 9 → EQF 1
    block = score(
        [q(1), q(2), q(4), q(8), toy.citizen()],
        [need, toy.vacancy(occupation_uri=None, title="x", essential_skills=[{"uri": toy.sk("hygiene")}])],
        taxonomy,
    )
    o = comp(block, "overqualification")
    assert o[:, 0].tolist() == pytest.approx([0.0, 1 / 3, 1.0, 1.0, 0.0])
    assert (o[:, 1] == 0).all()  # no level known for the need
    # not part of the total: the totals equal those computed with a policy that ignores it
    assert block.total.shape == o.shape


def test_language_soft_penalty_support_and_hard_gate(taxonomy: Taxonomy) -> None:
    p = ScoringPolicy()
    soft = toy.vacancy(languages=[{"language": "da", "cefr": "B2"}])
    supported = toy.vacancy(languages=[{"language": "da", "cefr": "B2"}], language_support=True)
    hard = toy.vacancy(languages=[{"language": "da", "cefr": "B2", "hard": True}])
    two = toy.vacancy(languages=[{"language": "da", "cefr": "A2"}, {"language": "en", "cefr": "B2"}])
    a2 = toy.citizen(languages=[{"language": "da", "cefr": "A2"}])
    c1 = toy.citizen(languages=[{"language": "da", "cefr": "C1"}, {"language": "en", "cefr": "B2"}])
    block = score([a2, c1], [soft, supported, hard, two], taxonomy)
    lang = comp(block, "language")
    assert lang[0, 0] == pytest.approx(1 - 2 * p.language_gap_penalty)
    assert lang[0, 1] == pytest.approx(1 - 2 * p.language_gap_penalty * (1 - p.language_support_softening))
    assert block.gates[0, 2] == Gate.LANGUAGE and block.total[0, 2] == 0
    assert lang[0, 3] == pytest.approx(0.0)  # no English at all: 4 steps short → clipped at 0
    assert (lang[1] == 1.0).all() and not block.gates[1].any()


def test_geography_decays_and_gates_beyond_max(taxonomy: Taxonomy) -> None:
    p = ScoringPolicy()
    here = toy.citizen(postcode="4200", max_commute_km=30)
    far = toy.citizen(postcode="4200", max_commute_km=120)
    needs = [toy.vacancy(postcode="4200"), toy.vacancy(postcode="4220"), toy.vacancy(postcode="2100")]
    block = score([here, far], needs, taxonomy)
    g = comp(block, "geography")
    assert g[0, 0] == pytest.approx(1.0)
    pc = toy.make_postcodes()
    d = float(haversine_km(*pc.coordinates("4200"), *pc.coordinates("4220")))  # type: ignore[misc]
    assert 10 < d < 20  # Slagelse–Korsør
    assert g[0, 1] == pytest.approx(1 / (1 + (d / (30 * p.commute_half_score_fraction)) ** 2), abs=1e-3)
    assert block.gates[0, 2] == Gate.COMMUTE  # Copenhagen ~85 km
    assert block.gates[1, 2] == 0 and 0 < g[1, 2] < g[1, 1]


def test_half_score_at_configured_fraction(taxonomy: Taxonomy) -> None:
    c = toy.citizen(location={"lat": 55.4, "lon": 11.35}, max_commute_km=20)
    # 10 km due north: 10 / 111.2 degrees of latitude
    n = toy.vacancy(location={"lat": 55.4 + 10 / 111.2, "lon": 11.35})
    g = comp(score([c], [n], taxonomy), "geography")[0, 0]
    assert g == pytest.approx(0.5, abs=0.005)


def test_unknown_postcode_is_neutral_and_never_gated(taxonomy: Taxonomy) -> None:
    nowhere = toy.citizen(postcode="9999", max_commute_km=1)
    block = score([nowhere, toy.citizen()], [toy.vacancy(postcode="2100"), toy.vacancy(postcode="9999")], taxonomy)
    g = comp(block, "geography")
    assert (g[0] == 0.5).all() and g[1, 1] == 0.5
    assert not block.gates[0].any() and not block.gates[:, 1].any()
    assert block.gates[1, 0] == Gate.COMMUTE  # known on both sides: Slagelse–Copenhagen is beyond 30 km


def test_availability(taxonomy: Taxonomy) -> None:
    horizon = ScoringPolicy().availability_horizon_days
    need = toy.vacancy(start_date="2027-01-01")
    citizens = [
        toy.citizen(available_from="2026-12-01"),
        toy.citizen(available_from="2027-01-31"),
        toy.citizen(available_from="2028-01-01"),
        toy.citizen(),
    ]
    a = comp(score(citizens, [need], taxonomy), "availability")[:, 0]
    assert a.tolist() == pytest.approx([1.0, 1 - 30 / horizon, 0.0, 1.0])


def test_licence_gate_uses_closure(taxonomy: Taxonomy) -> None:
    need = toy.vacancy(occupation_uri=toy.occ("truck_driver"), title="Chauffør", driving_licences=["C"])
    block = score(
        [toy.citizen(driving_licences=["CE"]), toy.citizen(driving_licences=["B"]), toy.citizen()], [need], taxonomy
    )
    assert block.gates[:, 0].tolist() == [0, Gate.DRIVING_LICENCE, Gate.DRIVING_LICENCE]


def test_expired_and_paused_needs_are_gated(taxonomy: Taxonomy) -> None:
    needs = [toy.vacancy(expires="2026-11-22"), toy.vacancy(expires="2026-11-23"), toy.vacancy(positions=0)]
    block = score([toy.citizen()], needs, taxonomy)
    assert block.gates[0].tolist() == [Gate.EXPIRED, 0, Gate.CAPACITY]


def test_total_is_weighted_mean_of_components(taxonomy: Taxonomy) -> None:
    citizens, needs = [toy.nurse_from_syria(), toy.citizen(skills=toy.skills("hygiene"))], [toy.vacancy()]
    p = ScoringPolicy()
    block = score(citizens, needs, taxonomy, p)
    w = p.weights.model_dump()
    expected = sum(w[k] * comp(block, k) for k in w) / sum(w.values())
    assert block.total == pytest.approx(expected, abs=1e-6)
    only_skills = with_policy(weights=p.weights.model_copy(update={k: 0.0 for k in w if k != "skills"}))
    assert score(citizens, needs, taxonomy, only_skills).total == pytest.approx(comp(block, "skills"))


def test_mismatched_taxonomy_is_refused(taxonomy: Taxonomy) -> None:
    cf, nf = toy.build([toy.citizen()], [toy.vacancy()], taxonomy)
    other = toy.make_taxonomy()
    object.__setattr__(other, "version", "other")
    with pytest.raises(ValueError, match="rebuild the features"):
        RuleScorer(ScoringPolicy(), other).score_block(cf, np.arange(1), nf, np.arange(1))


def test_can_pass_commute_is_exact_for_skipping(taxonomy: Taxonomy) -> None:
    policy = ScoringPolicy()
    citizens = [toy.citizen(postcode="4200", max_commute_km=20), toy.citizen(postcode="4230", max_commute_km=10)]
    needs = [toy.vacancy(postcode="2100"), toy.vacancy(postcode="4220")]
    cf, nf = toy.build(citizens, needs, taxonomy, policy)
    scorer = RuleScorer(policy, taxonomy)
    for cs in ([0], [1], [0, 1]):
        for ns in ([0], [1], [0, 1]):
            c_rows, n_rows = np.array(cs), np.array(ns)
            block = scorer.score_block(cf, c_rows, nf, n_rows)
            if not scorer.can_pass_commute(cf, c_rows, nf, n_rows):  # skipping must never hide a reachable pair
                assert (block.gates & Gate.COMMUTE).all()
    assert not scorer.can_pass_commute(cf, np.array([0, 1]), nf, np.array([0]))  # Copenhagen is out of reach
    assert scorer.can_pass_commute(cf, np.array([0, 1]), nf, np.array([0, 1]))  # Korsør is within 20 km
    nowhere, _ = toy.build([toy.citizen(postcode="9999")], needs, taxonomy, policy)
    assert scorer.can_pass_commute(nowhere, np.array([0]), nf, np.array([0]))


@pytest.mark.parametrize("n_needs", [1, 9])
def test_row_deduplication_does_not_change_scores(monkeypatch: pytest.MonkeyPatch, n_needs: int) -> None:
    """Deduplicating citizen rows is an optimisation only: forcing it on and off gives bit-identical blocks."""
    from matcher.scoring import _rule
    from tests.scoring.scorer_contract import contract_population

    taxonomy = toy.make_taxonomy()
    citizens, needs = contract_population()
    cf, nf = toy.build(citizens, needs, taxonomy)
    scorer = RuleScorer(ScoringPolicy(), taxonomy)
    c_rows, n_rows = np.arange(cf.n), np.arange(min(n_needs, nf.n))
    blocks = []
    for threshold in (0, 10**9):
        monkeypatch.setattr(_rule, "DEDUP_MIN_COLUMNS", threshold)
        blocks.append(scorer.score_block(cf, c_rows, nf, n_rows))
    always, never = blocks
    assert np.array_equal(always.total, never.total)
    assert np.array_equal(always.gates, never.gates)
    for name in always.components:
        assert np.array_equal(np.asarray(always.components[name]), np.asarray(never.components[name])), name


@pytest.mark.parametrize("policy_update", [{}, {"gates": {"schedule_clash": True, "hours": False}}])
def test_one_need_against_many_citizens_same_with_table_groups(
    taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch, policy_update: dict[str, Any]
) -> None:
    # against one need, schedule and geography are computed once per group of the whole table's citizens with
    # equal inputs and gathered out (_table_groups); row by row they must come out the same, bit for bit
    import matcher.scoring._rule as rule
    from tests.scoring.scorer_contract import contract_population

    citizens, needs = contract_population()
    gates = ScoringPolicy().gates.model_copy(update=policy_update.get("gates", {}))
    policy = ScoringPolicy(gates=gates)
    cf, nf = toy.build(citizens * 30, needs, taxonomy, policy)  # 720 rows, ~24 distinct
    scorer = RuleScorer(policy, taxonomy)
    rng = np.random.default_rng(5)
    grouped_somewhere = False
    for c_rows in (np.arange(cf.n), np.sort(rng.choice(cf.n, 400, replace=False)), rng.permutation(cf.n)[:300]):
        for j in range(nf.n):
            one = np.array([j])
            with_groups = scorer.score_block(cf, c_rows, nf, one)
            with monkeypatch.context() as m:
                m.setattr(rule, "TABLE_GROUPS_MIN_ROWS", 10**9)
                row_by_row = scorer.score_block(cf, c_rows, nf, one)
            np.testing.assert_array_equal(with_groups.total, row_by_row.total)
            np.testing.assert_array_equal(with_groups.gates, row_by_row.gates)
            for name, values in row_by_row.components.items():
                np.testing.assert_array_equal(with_groups.components[name], values, err_msg=name)
    for name in ("schedule", "geography"):
        grouped_somewhere |= any(key[0] == id(cf) and key[1] == name for key in rule._GROUPS)
    assert grouped_somewhere
