"""The shared test mixin every :class:`~matcher.scoring.Scorer` implementation must pass.

Use it by subclassing with a ``make_scorer`` hook::

    class TestMyScorer(ScorerContract):
        def make_scorer(self, policy, taxonomy):
            return MyScorer(policy, taxonomy)

The fixtures build a varied population from the miniature taxonomy in ``toy.py``: unknown postcodes, empty
skill lists, zero-hour ranges, hard language requirements, regulated occupations, expired and paused needs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from matcher.config import ScoringPolicy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.scoring import COMPONENTS, Scorer
from tests.scoring import toy


def contract_population() -> tuple[list, list]:
    rng = np.random.default_rng(7)
    citizens = [
        toy.nurse_from_syria(),
        toy.nurse_from_syria("recognised"),
        toy.citizen(),  # no skills at all
        toy.citizen(postcode="9999"),  # unknown postcode
        toy.citizen(hours={"min": 0, "max": 0}, skills=toy.skills("hygiene")),  # zero hours
        toy.citizen(location={"lat": 55.7, "lon": 12.5}, max_commute_km=5, driving_licences=["CE"]),
        toy.citizen(available_from="2027-06-01", skills=toy.skills("drive_truck", provenance="self_reported")),
        toy.citizen(languages=[{"language": "da", "cefr": "A1", "school_weekdays": ["mon", "tue", "wed"]}]),
    ]
    for _ in range(16):
        keys = list(rng.choice(toy.SKILLS, size=int(rng.integers(0, 5)), replace=False))
        citizens.append(
            toy.citizen(
                postcode=str(rng.choice(["4200", "4220", "4230", "2100", "9999"])),
                skills=toy.skills(*keys),
                hours={"min": float(rng.integers(0, 10)), "max": float(rng.integers(10, 38))},
                occupations=[{"uri": toy.occ(str(rng.choice([o[0] for o in toy.OCCUPATIONS]))), "years": 2}],
                languages=[{"language": "da", "cefr": str(rng.choice(["A1", "A2", "B1", "B2", "C1"]))}],
            )
        )
    needs = [
        toy.vacancy(),
        toy.vacancy(occupation_uri=toy.occ("nurse"), title="Sygeplejerske", hours_per_week=37),
        toy.vacancy(languages=[{"language": "da", "cefr": "B2", "hard": True}], postcode="4230"),
        toy.vacancy(postcode="9999", hours_per_week=6),
        toy.vacancy(occupation_uri=toy.occ("truck_driver"), driving_licences=["C"], postcode="2100"),
        toy.vacancy(expires="2026-11-01", start_date="2026-10-01"),
        toy.vacancy(positions=0),
        toy.vacancy(
            kind="hybrid_internship",
            hybrid={"paid_hours": 10, "internship_hours": 15, "weeks": 13},
            weekdays=["mon", "wed", "fri"],
            min_eqf_level=4,
        ),
        toy.vacancy(
            occupation_uri=None,
            essential_skills=[{"uri": toy.sk("clean_rooms")}],
            title="Rengøring",
            languages=[{"language": "en", "cefr": "B1"}],
            language_support=True,
        ),
    ]
    return citizens, needs


class ScorerContract:
    """Properties every scorer must have (see the :class:`Scorer` docstring)."""

    def make_scorer(self, policy: ScoringPolicy, taxonomy: toy.Taxonomy) -> Scorer:  # pragma: no cover - hook
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def taxonomy(cls) -> toy.Taxonomy:
        return toy.make_taxonomy()

    @pytest.fixture(scope="class")
    @classmethod
    def features(cls, taxonomy: toy.Taxonomy) -> tuple[CitizenFeatures, NeedFeatures]:
        citizens, needs = contract_population()
        return toy.build(citizens, needs, taxonomy)

    @pytest.fixture()
    def scorer(self, taxonomy: toy.Taxonomy) -> Scorer:
        return self.make_scorer(ScoringPolicy(), taxonomy)

    def _all(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]):  # type: ignore[no-untyped-def]
        cf, nf = features
        return scorer.score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))

    def test_shapes_and_dtypes(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        cf, nf = features
        block = scorer.score_block(cf, np.array([3, 0, 5]), nf, np.array([1, 2]))
        assert block.total.shape == (3, 2) and block.total.dtype == np.float32
        assert block.gates.shape == (3, 2) and block.gates.dtype == np.uint16
        assert set(block.components) == {*COMPONENTS, "overqualification"}
        for name, arr in block.components.items():
            assert arr.shape == (3, 2), name
            assert arr.dtype == np.float32, name

    def test_values_in_unit_interval_and_finite(
        self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]
    ) -> None:
        block = self._all(scorer, features)
        for name, arr in [("total", block.total), *block.components.items()]:
            assert np.isfinite(arr).all(), name
            assert arr.min() >= 0.0 and arr.max() <= 1.0, name

    def test_total_zero_where_gated(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        block = self._all(scorer, features)
        gated = block.gates != 0
        assert gated.any() and (~gated).any(), "the contract population must have gated and open pairs"
        assert (block.total[gated] == 0).all()
        assert (block.total[~gated] > 0).any()

    def test_only_enabled_gates(self, taxonomy: toy.Taxonomy, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        policy = ScoringPolicy()
        off = policy.gates.model_copy(update={name: False for name in type(policy.gates).model_fields})
        scorer = self.make_scorer(policy.model_copy(update={"gates": off}), taxonomy)
        block = self._all(scorer, features)
        assert not block.gates.any()

    def test_deterministic(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        a, b = self._all(scorer, features), self._all(scorer, features)
        assert np.array_equal(a.total, b.total) and np.array_equal(a.gates, b.gates)
        for name in a.components:
            assert np.array_equal(a.components[name], b.components[name]), name

    def test_block_split_invariance(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        cf, nf = features
        whole = self._all(scorer, features)
        c_cut, n_cut = cf.n // 3, nf.n // 2
        for cs in (np.arange(0, c_cut), np.arange(c_cut, cf.n)):
            for ns in (np.arange(0, n_cut), np.arange(n_cut, nf.n)):
                part = scorer.score_block(cf, cs, nf, ns)
                sel = np.ix_(cs, ns)
                assert np.array_equal(part.total, whole.total[sel])
                assert np.array_equal(part.gates, whole.gates[sel])
                for name in whole.components:
                    assert np.array_equal(part.components[name], whole.components[name][sel]), name

    def test_row_order_follows_request(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        cf, nf = features
        whole = self._all(scorer, features)
        cs, ns = np.array([5, 2, 0]), np.array([4, 0])
        part = scorer.score_block(cf, cs, nf, ns)
        assert np.array_equal(part.total, whole.total[np.ix_(cs, ns)])

    def test_empty_block(self, scorer: Scorer, features: tuple[CitizenFeatures, NeedFeatures]) -> None:
        cf, nf = features
        block = scorer.score_block(cf, np.array([], np.int64), nf, np.arange(nf.n))
        assert block.total.shape == (0, nf.n)
        assert all(arr.shape == (0, nf.n) for arr in block.components.values())
        block = scorer.score_block(cf, np.arange(cf.n), nf, np.array([], np.int64))
        assert block.total.shape == block.gates.shape == (cf.n, 0)
        assert all(arr.shape == (cf.n, 0) for arr in block.components.values())

    def test_scores_concatenated_features_like_the_parts(
        self, scorer: Scorer, taxonomy: toy.Taxonomy, features: tuple[CitizenFeatures, NeedFeatures]
    ) -> None:
        cf, nf = features
        both = CitizenFeatures.concat([cf.take(np.arange(0, 4)), cf.take(np.arange(4, cf.n))])
        a = scorer.score_block(both, np.arange(both.n), nf, np.arange(nf.n))
        assert np.array_equal(a.total, self._all(scorer, features).total)

    def test_later_today_expires_more(self, scorer: Scorer, taxonomy: toy.Taxonomy) -> None:
        citizens, needs = contract_population()
        pc, policy = toy.make_postcodes(), ScoringPolicy()
        cf = CitizenFeatures.build([(1, citizens[0])], taxonomy, pc, policy, toy.TODAY)
        early = NeedFeatures.build([(1, needs[5])], taxonomy, pc, policy, dt.date(2026, 10, 15))
        late = NeedFeatures.build([(1, needs[5])], taxonomy, pc, policy, toy.TODAY)
        one = np.array([0])
        assert scorer.score_block(cf, one, early, one).gates[0, 0] == 0
        assert scorer.score_block(cf, one, late, one).gates[0, 0] != 0
