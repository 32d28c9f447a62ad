"""The fairness audit: group assignment, the three measures on hand-made cases with known answers, consistency
with the engine on a synthetic world, and that a deliberately biased scorer is caught."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from matcher.config import ScoringPolicy
from matcher.domain import Citizen
from matcher.evaluation.fairness import (
    DIMENSIONS,
    UNKNOWN,
    PairStatistics,
    RankedLists,
    attributes_frame,
    audit_features,
    citizen_groups,
    engine_rankings,
    exposure_table,
    pair_statistics,
    proposal_table,
    score_tables,
)
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.scoring import RuleScorer, ScoreBlock, Scorer
from matcher.synthetic import SyntheticData, generate
from matcher.taxonomy import Postcodes, Taxonomy

AS_OF = dt.date(2026, 11, 1)


def _citizen(ref: str, countries: list[str], group: str = "jobparat") -> Citizen:
    return Citizen.model_validate(
        {
            "external_ref": ref,
            "target_group": group,
            "postcode": "4200",
            "qualifications": [
                {"title": f"q{i}", "country": c, "eqf_level": 4, "recognition": "not_assessed"}
                for i, c in enumerate(countries)
            ],
        }
    )


# --------------------------------------------------------------------------------------------- groups


def test_groups_from_profiles_and_attributes() -> None:
    citizens = [
        _citizen("a", ["DK", "SY"]),  # a Danish qualification counts as Danish
        _citizen("b", ["SY", "UA"], "integration"),
        _citizen("c", []),
        _citizen("d", ["UA"]),
        _citizen("e", ["DK"]),
        _citizen("f", []),
    ]
    attrs = attributes_frame(
        [
            (10, "female", AS_OF.year - 18, "DK"),  # exactly 18: first band
            (11, "male", AS_OF.year - 17, "SY"),  # under 18
            (12, None, AS_OF.year - 30, None),  # 30: second band; gender and origin unknown
            (13, "other", AS_OF.year - 29, "UA"),
            (14, "undisclosed", AS_OF.year - 85, "DK"),  # 85: open-ended last band
        ]
    )  # citizen 15 has no row at all
    groups = citizen_groups([10, 11, 12, 13, 14, 15], citizens, attrs, AS_OF)
    assert list(groups.columns) == list(DIMENSIONS)
    assert groups.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert groups["qualification"].tolist() == [
        "Danish", "foreign", "no qualification", "foreign", "Danish", "no qualification",
    ]  # fmt: skip
    assert groups["age_band"].tolist() == ["18-29", "under 18", "30-39", "18-29", "60+", UNKNOWN]
    assert groups["gender"].tolist() == ["female", "male", UNKNOWN, "other", "undisclosed", UNKNOWN]
    assert groups["origin"].tolist() == ["Danish", "foreign", UNKNOWN, "foreign", "Danish", UNKNOWN]
    assert groups["target_group"].tolist()[:2] == ["jobparat", "integration"]
    assert list(groups["gender"].cat.categories)[-1] == UNKNOWN


def test_groups_without_any_attributes_are_unknown() -> None:
    citizens = [_citizen("a", ["DK"]), _citizen("b", [])]
    groups = citizen_groups([1, 2], citizens, None, AS_OF)
    for dim in ("gender", "age_band", "origin"):
        assert groups[dim].tolist() == [UNKNOWN, UNKNOWN]
    assert groups["qualification"].tolist() == ["Danish", "no qualification"]


def test_groups_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="citizen_ids"):
        citizen_groups([1], [_citizen("a", []), _citizen("b", [])], None, AS_OF)
    with pytest.raises(ValueError, match="unique"):
        citizen_groups([1, 1], [_citizen("a", []), _citizen("b", [])], None, AS_OF)
    with pytest.raises(ValueError, match="religion"):
        citizen_groups([1], [_citizen("a", [])], pd.DataFrame({"religion": ["x"]}, index=[1]), AS_OF)


# --------------------------------------------------------------------------------------------- hand-made cases


def _groups(genders: list[str], ids: list[int] | None = None) -> pd.DataFrame:
    ids = ids or list(range(1, len(genders) + 1))
    citizens = [_citizen(f"c{i}", ["DK"]) for i in ids]
    attrs = pd.DataFrame({"gender": genders}, index=pd.Index(ids, name="citizen_id"))
    return citizen_groups(ids, citizens, attrs, AS_OF)


def _stats(
    groups: pd.DataFrame,
    eligible: np.ndarray,
    score_sum: np.ndarray,
    reach: np.ndarray | None = None,
    per_need: np.ndarray | None = None,
) -> PairStatistics:
    """Statistics by hand: ``per_need`` is (citizens × needs) eligibility, reduced to groups like the real pass."""
    n_c, n_s = eligible.shape
    per_need = np.ones((n_c, 1)) if per_need is None else per_need
    group_eligible = {}
    for dim in DIMENSIONS:
        codes = groups[dim].cat.codes.to_numpy()
        onehot = np.zeros((len(groups[dim].cat.categories), n_c))
        onehot[codes, np.arange(n_c)] = 1
        group_eligible[dim] = onehot @ per_need
    return PairStatistics(
        citizen_ids=groups.index.to_numpy().astype(np.int64),
        need_ids=np.arange(1, per_need.shape[1] + 1),
        strata=[f"s{i}" for i in range(n_s)],
        reach=eligible if reach is None else reach,
        eligible=eligible,
        score_sum=score_sum,
        group_eligible=group_eligible,
        need_eligible=per_need.sum(axis=0),
    )


def _row(table: pd.DataFrame, dim: str, group: str) -> pd.Series:
    hit = table[(table["dimension"] == dim) & (table["group"] == group)]
    assert len(hit) == 1, f"{dim}/{group} not in the table"
    return hit.iloc[0]


def test_exposure_counts_slots_and_discounted_positions_against_the_eligible() -> None:
    groups = _groups(["female", "female", "male", "male"])
    stats = _stats(groups, np.ones((4, 1), np.int64), np.zeros((4, 1)), per_need=np.ones((4, 2)))
    lists = RankedLists(
        need_ids=np.array([1, 2]), need_citizen_ids=np.array([[1, 2], [1, 3]]), plan_citizen_ids=np.array([1])
    )
    table = exposure_table(groups, lists, stats, k=2)
    female, male = _row(table, "gender", "female"), _row(table, "gender", "male")
    assert (female["slots"], male["slots"]) == (3, 1)
    assert female["eligible_share"] == pytest.approx(0.5)  # all four eligible for both needs
    assert female["slot_ratio"] == pytest.approx(1.5) and male["slot_ratio"] == pytest.approx(0.5)
    d2 = 1 / math.log2(3)
    assert female["exposure_share"] == pytest.approx((1 + d2 + 1) / (2 + 2 * d2))
    assert female["exposure_ratio"] == pytest.approx(female["exposure_share"] / 0.5)


def test_exposure_expectation_follows_eligibility_per_need() -> None:
    """Men are eligible for need 2 only, women for both: a group-blind order would give women 2 + 1 = 3 of the
    4 slots (k=2), so 3 slots is exactly in proportion although women are half the population."""
    groups = _groups(["female", "female", "male", "male"])
    per_need = np.array([[1, 1], [1, 1], [0, 1], [0, 1]], dtype=float)
    stats = _stats(groups, np.ones((4, 1), np.int64), np.zeros((4, 1)), per_need=per_need)
    lists = RankedLists(np.array([1, 2]), np.array([[1, 2], [2, 3]]), np.array([], dtype=np.int64))
    female = _row(exposure_table(groups, lists, stats, k=2), "gender", "female")
    assert female["population_share"] == pytest.approx(0.5)
    assert female["eligible_share"] == pytest.approx(0.75)
    assert female["slot_ratio"] == pytest.approx(1.0)


def test_score_at_equal_skill_removes_a_difference_in_skill_mix() -> None:
    """Simpson's case: within each skill stratum both groups score the same, but the women's pairs sit mostly in
    the high-skill stratum. The raw difference is large, the difference at equal skill is 0."""
    groups = _groups(["female", "male"])
    eligible = np.array([[10, 90], [90, 10]])
    means = np.array([0.2, 0.8])
    stats = _stats(groups, eligible, eligible * means)
    summary, strata = score_tables(groups, stats, {"gender": "male"})
    female = _row(summary, "gender", "female")
    assert female["raw_difference"] == pytest.approx(0.74 - 0.26)
    assert female["difference_at_equal_skill"] == pytest.approx(0.0, abs=1e-12)
    assert female["coverage"] == pytest.approx(1.0)
    assert set(strata["stratum"]) == {"s0", "s1"}


def test_score_at_equal_skill_finds_a_gap_within_strata() -> None:
    groups = _groups(["female", "male"])
    eligible = np.array([[30, 10, 0], [10, 10, 5]])
    score = np.array([[0.1, 0.5, 0.0], [0.2, 0.6, 0.9]])
    reach = np.array([[60, 10, 4], [10, 20, 5]])
    stats = _stats(groups, eligible, eligible * score, reach=reach)
    female = _row(score_tables(groups, stats, {"gender": "male"})[0], "gender", "female")
    assert female["difference_at_equal_skill"] == pytest.approx(-0.1)  # -0.1 in both common strata
    assert female["coverage"] == pytest.approx(1.0)  # the women have no pairs in the third stratum
    # pass rate: 0.5 vs 1.0 (weight 60) and 1.0 vs 0.5 (weight 10); stratum 3: women 0 of 4 vs men 5 of 5 (weight 4)
    assert female["pass_rate_difference_at_equal_skill"] == pytest.approx((60 * -0.5 + 10 * 0.5 + 4 * -1.0) / 74)
    assert _row(score_tables(groups, stats, {"gender": "male"})[0], "gender", "male")["difference_at_equal_skill"] == 0


def test_proposals_share_of_all_and_of_the_eligible() -> None:
    groups = _groups(["female", "female", "male", "male"])
    eligible = np.array([[1], [1], [1], [0]])
    stats = _stats(groups, eligible, np.zeros((4, 1)))
    lists = RankedLists(np.array([1]), np.array([[1, 3]]), plan_citizen_ids=np.array([1, 3, 3]))
    table = proposal_table(groups, lists, stats)
    female, male = _row(table, "gender", "female"), _row(table, "gender", "male")
    assert (female["with_proposal"], male["with_proposal"]) == (1, 1)
    assert female["proposal_share"] == pytest.approx(0.5)
    assert female["ratio_to_all"] == pytest.approx(1.0)
    assert male["eligible_for_a_need"] == 1 and male["proposal_share_of_eligible"] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------- on a synthetic world


@pytest.fixture(scope="module")
def world() -> SyntheticData:
    return generate(500, 80, seed=11, today=AS_OF)


@pytest.fixture(scope="module")
def built(
    world: SyntheticData, taxonomy: Taxonomy, postcodes: Postcodes
) -> tuple[CitizenFeatures, NeedFeatures, pd.DataFrame]:
    policy = ScoringPolicy()
    ids = list(range(1, len(world.citizens) + 1))
    citizens = CitizenFeatures.build(list(zip(ids, world.citizens, strict=True)), taxonomy, postcodes, policy, AS_OF)
    needs = NeedFeatures.build(list(enumerate(world.vacancies, 1)), taxonomy, postcodes, policy, AS_OF)
    attrs = pd.DataFrame(world.protected, index=pd.Index(ids, name="citizen_id"))
    return citizens, needs, citizen_groups(ids, world.citizens, attrs, AS_OF)


def test_pair_statistics_equal_a_full_grid(
    built: tuple[CitizenFeatures, NeedFeatures, pd.DataFrame], taxonomy: Taxonomy
) -> None:
    """Blocked, geographically pruned accumulation = scoring the whole grid at once and counting directly."""
    citizens, needs, groups = built
    scorer = RuleScorer(ScoringPolicy(), taxonomy)
    stats = pair_statistics(scorer, citizens, needs, groups, geo_blocking=True, memory_budget_mb=1)
    full = scorer.score_block(citizens, np.arange(citizens.n), needs, np.arange(needs.n))
    ok = full.gates == 0
    assert ok.any() and not ok.all()
    np.testing.assert_array_equal(stats.eligible.sum(axis=1), ok.sum(axis=1))
    np.testing.assert_allclose(stats.score_sum.sum(axis=1), np.where(ok, full.total, 0).sum(axis=1), rtol=1e-5)
    assert stats.reach.sum() >= stats.eligible.sum()
    np.testing.assert_array_equal(stats.need_eligible, ok.sum(axis=0))
    female = (groups.loc[citizens.ids, "gender"] == "female").to_numpy()
    cats = list(groups["gender"].cat.categories)
    np.testing.assert_array_equal(stats.group_eligible["gender"][cats.index("female")], ok[female].sum(axis=0))


def test_audit_slots_match_the_eligible_count_and_the_engine(
    built: tuple[CitizenFeatures, NeedFeatures, pd.DataFrame], taxonomy: Taxonomy
) -> None:
    """Without overrides every need's top-k list holds min(k, eligible) citizens, so the observed and expected
    slot totals agree; that ties the audit's gate counting to the engine's ranking."""
    citizens, needs, groups = built
    policy = ScoringPolicy()
    scorer = RuleScorer(policy, taxonomy)
    report = audit_features(scorer, citizens, needs, groups, policy, as_of=AS_OF, k=10)
    lists = engine_rankings(scorer, citizens, needs, policy, k=10)
    stats = pair_statistics(scorer, citizens, needs, groups, geo_blocking=True)
    assert int((lists.need_citizen_ids >= 0).sum()) == int(np.minimum(stats.need_eligible, 10).sum())
    exposure = report.exposure
    for dim in DIMENSIONS:
        part = exposure[exposure["dimension"] == dim]
        assert part["citizens"].sum() == citizens.n
        assert part["slots"].sum() == int((lists.need_citizen_ids >= 0).sum())
        assert part["eligible_share"].sum() == pytest.approx(1.0)
    assert report.proposals["with_proposal"].sum() == len(DIMENSIONS) * len(np.unique(lists.plan_citizen_ids))
    refs = report.score_at_equal_skill.query("group == reference")
    assert (refs["difference_at_equal_skill"] == 0).all() and len(refs) == len(DIMENSIONS)
    record = report.to_dict()
    assert record["meta"]["k"] == 10 and len(record["exposure"]) == len(exposure)


class _PenalisingScorer(Scorer):
    """The rule scorer with every total of some citizens cut by a factor: a planted bias the audit must find."""

    def __init__(self, inner: Scorer, penalised_ids: np.ndarray, factor: float) -> None:
        self.inner, self.penalised_ids, self.factor = inner, penalised_ids, factor

    def score_block(
        self, citizens: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray
    ) -> ScoreBlock:
        block = self.inner.score_block(citizens, c_rows, needs, n_rows)
        hit = np.isin(citizens.ids[c_rows], self.penalised_ids)[:, None]
        total = np.where(hit, block.total * np.float32(self.factor), block.total).astype(np.float32)
        return ScoreBlock(total=total, components=block.components, gates=block.gates)


def test_a_planted_bias_against_women_is_found(
    built: tuple[CitizenFeatures, NeedFeatures, pd.DataFrame], taxonomy: Taxonomy
) -> None:
    citizens, needs, groups = built
    policy = ScoringPolicy()
    fair = RuleScorer(policy, taxonomy)
    women = groups.index[groups["gender"] == "female"].to_numpy()
    biased = _PenalisingScorer(fair, women, 0.7)
    clean = audit_features(fair, citizens, needs, groups, policy, as_of=AS_OF, k=10)
    bent = audit_features(biased, citizens, needs, groups, policy, as_of=AS_OF, k=10)
    clean_f = _row(clean.score_at_equal_skill, "gender", "female")
    bent_f = _row(bent.score_at_equal_skill, "gender", "female")
    # gender is not a scoring input, so the fair scorer shows no gap at equal skill in this world
    assert abs(clean_f["difference_at_equal_skill"]) < 0.02
    assert bent_f["difference_at_equal_skill"] < -0.08
    assert _row(bent.exposure, "gender", "female")["exposure_ratio"] < 0.5
    assert abs(_row(clean.exposure, "gender", "female")["exposure_ratio"] - 1) < 0.15
    assert _row(bent.proposals, "gender", "female")["ratio_to_all"] < _row(
        clean.proposals, "gender", "female"
    )["ratio_to_all"]
    # the pass rate does not move: the bias is in the score, not in the gates
    assert bent_f["pass_rate"] == pytest.approx(clean_f["pass_rate"])


def test_audit_checks_its_input(built: tuple[CitizenFeatures, NeedFeatures, pd.DataFrame], taxonomy: Taxonomy) -> None:
    citizens, needs, groups = built
    policy = ScoringPolicy()
    scorer = RuleScorer(policy, taxonomy)
    with pytest.raises(ValueError, match="k: must be at least 1"):
        audit_features(scorer, citizens, needs, groups, policy, as_of=AS_OF, k=0)
    with pytest.raises(ValueError, match="groups: 1 citizens have no row"):
        audit_features(scorer, citizens, needs, groups.iloc[1:], policy, as_of=AS_OF)
    with pytest.raises(ValueError, match="skill_edges"):
        pair_statistics(scorer, citizens, needs, groups, geo_blocking=True, skill_edges=(0.5, 0.2))
