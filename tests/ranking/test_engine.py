"""The engine facade: every query equals a brute-force ranking with the real scorer, never shows a gated or
hidden pair, stays the same under incremental writes, and survives concurrent reads during writes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, Match, NeedKind, TargetGroup, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import AD_HOC_NEED_ID, CandidateFilter, MatchEngine, NeedFilter
from matcher.ranking import _engine as engine_module
from matcher.scoring import RuleScorer
from matcher.taxonomy import Postcodes, Taxonomy, haversine_km
from tests.ranking.conftest import TODAY, random_people

EngineFactory = Callable[..., MatchEngine]
People = tuple[list[tuple[int, Citizen]], list[tuple[int, Vacancy]]]


class BruteForce:
    """Every pair scored in one block; lists sorted in Python by (score desc, id asc)."""

    def __init__(self, people: People, taxonomy: Taxonomy, postcodes: Postcodes, policy: ScoringPolicy) -> None:
        citizens, needs = people
        self.cf = CitizenFeatures.build(citizens, taxonomy, postcodes, policy, TODAY)
        self.nf = NeedFeatures.build(needs, taxonomy, postcodes, policy, TODAY)
        self.block = RuleScorer(policy, taxonomy).score_block(
            self.cf, np.arange(self.cf.n), self.nf, np.arange(self.nf.n)
        )
        self.c_ids = self.cf.ids.tolist()
        self.n_ids = self.nf.ids.tolist()
        self.citizens = dict(citizens)
        self.needs = dict(needs)

    def distance(self, i: int, j: int) -> float:
        return float(haversine_km(self.cf.lat[i], self.cf.lon[i], self.nf.lat[j], self.nf.lon[j]))

    def candidates(self, need_id: int, filters: CandidateFilter | None = None) -> list[tuple[int, float]]:
        f = filters or CandidateFilter()
        j = self.n_ids.index(need_id)
        out = []
        for i, cid in enumerate(self.c_ids):
            if self.block.gates[i, j] or self.block.total[i, j] < np.float32(f.min_score):
                continue
            if f.target_groups is not None and self.citizens[cid].target_group not in f.target_groups:
                continue
            if f.radius_km is not None and not self.distance(i, j) <= f.radius_km:
                continue
            out.append((cid, float(self.block.total[i, j])))
        return sorted(out, key=lambda t: (-t[1], t[0]))

    def for_citizen(self, citizen_id: int, filters: NeedFilter | None = None) -> list[tuple[int, float]]:
        f = filters or NeedFilter()
        i = self.c_ids.index(citizen_id)
        out = []
        for j, nid in enumerate(self.n_ids):
            if self.block.gates[i, j] or self.block.total[i, j] < np.float32(f.min_score):
                continue
            if f.kinds is not None and self.needs[nid].kind not in f.kinds:
                continue
            if f.radius_km is not None and not self.distance(i, j) <= f.radius_km:
                continue
            out.append((nid, float(self.block.total[i, j])))
        return sorted(out, key=lambda t: (-t[1], t[0]))


def pairs(matches: list[Match], by: str) -> list[tuple[int, float]]:
    return [(getattr(m, by), m.score) for m in matches]


@pytest.fixture(scope="module")
def people(postcodes: Postcodes) -> People:
    return random_people(1, 300, 80, postcodes)


@pytest.fixture
def loaded(engine_factory: EngineFactory, people: People) -> MatchEngine:
    engine = engine_factory()
    engine.bulk_load(*people)
    return engine


@pytest.fixture(scope="module")
def brute(people: People, taxonomy: Taxonomy, postcodes: Postcodes) -> BruteForce:
    return BruteForce(people, taxonomy, postcodes, ScoringPolicy())


def test_candidates_equal_brute_force(loaded: MatchEngine, brute: BruteForce) -> None:
    n_nonempty = 0
    for nid in brute.n_ids:
        got = pairs(loaded.candidates(nid, limit=1000, explain=False), "citizen_id")
        assert got == brute.candidates(nid)
        n_nonempty += bool(got)
    assert n_nonempty > len(brute.n_ids) // 2


def test_matches_for_citizen_equal_brute_force(loaded: MatchEngine, brute: BruteForce) -> None:
    n_nonempty = 0
    for cid in brute.c_ids[::2]:
        got = pairs(loaded.matches_for_citizen(cid, limit=1000, explain=False), "need_id")
        assert got == brute.for_citizen(cid)
        n_nonempty += bool(got)
    assert n_nonempty > len(brute.c_ids) // 4


def test_filters_equal_brute_force(loaded: MatchEngine, brute: BruteForce) -> None:
    cand_filters = [
        CandidateFilter(radius_km=15),
        CandidateFilter(target_groups={TargetGroup.integration, TargetGroup.jobparat}),
        CandidateFilter(min_score=0.6),
        CandidateFilter(radius_km=40, target_groups={TargetGroup.sygedagpenge}, min_score=0.3),
    ]
    need_filters = [
        NeedFilter(kinds={NeedKind.hybrid_internship}),
        NeedFilter(kinds={NeedKind.ordinary, NeedKind.flexjob}, radius_km=20),
        NeedFilter(min_score=0.55),
    ]
    for f in cand_filters:
        for nid in brute.n_ids[:20]:
            assert pairs(loaded.candidates(nid, limit=1000, filters=f, explain=False), "citizen_id") == (
                brute.candidates(nid, f)
            )
    for g in need_filters:
        for cid in brute.c_ids[:60]:
            assert pairs(loaded.matches_for_citizen(cid, limit=1000, filters=g, explain=False), "need_id") == (
                brute.for_citizen(cid, g)
            )


def test_paging_and_explanations(loaded: MatchEngine, brute: BruteForce) -> None:
    nid = max(brute.n_ids, key=lambda n: len(brute.candidates(n)))
    full = brute.candidates(nid)
    assert len(full) >= 6
    page = loaded.candidates(nid, limit=3, offset=2)
    assert pairs(page, "citizen_id") == full[2:5]
    for m in page:
        assert m.need_id == nid and m.gates == []
        assert 2 <= len(m.explanation.da) <= 5 and len(m.explanation.en) == len(m.explanation.da)
        assert set(m.components) >= {"skills", "geography", "overqualification"}
    assert loaded.candidates(nid, limit=0) == []
    assert loaded.candidates(nid, limit=5, offset=len(full)) == []


def test_search_equals_candidates_of_the_stored_need(loaded: MatchEngine, people: People) -> None:
    for nid, need in people[1][:10]:
        stored = loaded.candidates(nid, limit=50, explain=False)
        ad_hoc = loaded.search(need, limit=50, explain=False)
        assert pairs(ad_hoc, "citizen_id") == pairs(stored, "citizen_id")
        assert all(m.need_id == AD_HOC_NEED_ID for m in ad_hoc)


def test_no_result_ever_carries_a_gate(
    engine_factory: EngineFactory, taxonomy: Taxonomy, postcodes: Postcodes
) -> None:
    for seed in (2,):
        people = random_people(seed, 150, 40, postcodes)
        citizens, needs = people
        gates = BruteForce(people, taxonomy, postcodes, ScoringPolicy())
        gated = {
            (cid, nid)
            for i, cid in enumerate(gates.c_ids)
            for j, nid in enumerate(gates.n_ids)
            if gates.block.gates[i, j]
        }
        engine = engine_factory(memory_budget_mb=1)
        engine.bulk_load(citizens, needs)
        listed: set[tuple[int, int]] = set()
        for nid, _ in needs:
            for m in engine.candidates(nid, limit=200, explain=False):
                assert m.gates == []
                listed.add((m.citizen_id, nid))
        for cid, _ in citizens[::2]:
            for m in engine.matches_for_citizen(cid, limit=200, explain=False):
                assert m.gates == []
                listed.add((cid, m.need_id))
        top = engine.score_all(10)
        for nid, cids in zip(top.need_ids.tolist(), top.need_citizen_ids.tolist(), strict=True):
            listed |= {(cid, nid) for cid in cids if cid >= 0}
        for cid, nids in zip(top.citizen_ids.tolist(), top.citizen_need_ids.tolist(), strict=True):
            listed |= {(cid, nid) for nid in nids if nid >= 0}
        assert len(listed) > 300 and len(gated) > 300
        assert not listed & gated
        # gated pairs are explained on request, with score 0 and the gate named
        for cid, nid in sorted(gated)[:5]:
            m = engine.explain_pair(cid, nid)
            assert m.gates and m.score == 0 and m.explanation.da


def test_score_all_equals_brute_force(
    engine_factory: EngineFactory, people: People, brute: BruteForce
) -> None:
    for budget in (1, 64):
        engine = engine_factory(memory_budget_mb=budget)
        engine.bulk_load(*people)
        top = engine.score_all(5)
        for nid, cids, scores in zip(top.need_ids, top.need_citizen_ids, top.need_scores, strict=True):
            got = [(int(c), float(s)) for c, s in zip(cids, scores, strict=True) if c >= 0]
            assert got == brute.candidates(int(nid))[:5]
        for cid, nids, scores in zip(top.citizen_ids, top.citizen_need_ids, top.citizen_scores, strict=True):
            got = [(int(n), float(s)) for n, s in zip(nids, scores, strict=True) if n >= 0]
            assert got == brute.for_citizen(int(cid))[:5]


def test_score_all_without_commute_gate_is_not_blocked(
    engine_factory: EngineFactory, people: People, taxonomy: Taxonomy, postcodes: Postcodes
) -> None:
    policy = ScoringPolicy.model_validate({"gates": {"commute": False}})
    brute = BruteForce(people, taxonomy, postcodes, policy)
    engine = engine_factory(policy=policy, memory_budget_mb=1)
    engine.bulk_load(*people)
    top = engine.score_all(4)
    for nid, cids, scores in zip(top.need_ids, top.need_citizen_ids, top.need_scores, strict=True):
        got = [(int(c), float(s)) for c, s in zip(cids, scores, strict=True) if c >= 0]
        assert got == brute.candidates(int(nid))[:4]
    nid = brute.n_ids[0]
    assert pairs(engine.candidates(nid, limit=1000, explain=False), "citizen_id") == brute.candidates(nid)


def snapshot(engine: MatchEngine, citizen_ids: list[int], need_ids: list[int]) -> tuple[object, ...]:
    cands = [pairs(engine.candidates(n, limit=1000, explain=False), "citizen_id") for n in need_ids]
    mats = [pairs(engine.matches_for_citizen(c, limit=1000, explain=False), "need_id") for c in citizen_ids]
    top = engine.score_all(6)
    order_n, order_c = np.argsort(top.need_ids), np.argsort(top.citizen_ids)
    return (
        cands,
        mats,
        top.need_ids[order_n].tolist(),
        top.need_citizen_ids[order_n].tolist(),
        top.need_scores[order_n].tolist(),
        top.citizen_need_ids[order_c].tolist(),
        top.citizen_overqualification[order_c].tolist(),
    )


@pytest.mark.parametrize("compact_min_rows", [4, 10_000])
def test_incremental_equals_bulk(
    engine_factory: EngineFactory,
    postcodes: Postcodes,
    monkeypatch: pytest.MonkeyPatch,
    compact_min_rows: int,
) -> None:
    monkeypatch.setattr(engine_module, "COMPACT_MIN_ROWS", compact_min_rows)
    citizens, needs = random_people(4, 120, 40, postcodes)
    spare_c, spare_n = random_people(5, 30, 10, postcodes)
    inc = engine_factory()
    inc.bulk_load(citizens[:60], needs[:20])
    for cid, c in citizens[60:]:
        inc.upsert_citizen(cid, c)
    for nid, n in needs[20:]:
        inc.upsert_need(nid, n)
    # replace some (in main and in the delta) with other profiles, remove some, re-add one removed
    final_c = dict(citizens)
    final_n = dict(needs)
    for (cid, _), (_, other) in zip(citizens[::9], spare_c, strict=False):
        inc.upsert_citizen(cid, other)
        final_c[cid] = other
    for (nid, _), (_, other) in zip(needs[::7], spare_n, strict=False):
        inc.upsert_need(nid, other)
        final_n[nid] = other
    for cid, _ in citizens[1::11]:
        inc.remove_citizen(cid)
        del final_c[cid]
    for nid, _ in needs[2::6]:
        inc.remove_need(nid)
        del final_n[nid]
    back_id, back = citizens[1]
    inc.upsert_citizen(back_id, back)
    final_c[back_id] = back

    fresh = engine_factory()
    fresh.bulk_load(final_c.items(), final_n.items())
    c_ids, n_ids = sorted(final_c)[::3], sorted(final_n)
    assert snapshot(inc, c_ids, n_ids) == snapshot(fresh, c_ids, n_ids)
    with pytest.raises(KeyError):
        inc.candidates(needs[2][0])


def test_pinned_first_hidden_never(loaded: MatchEngine, brute: BruteForce) -> None:
    nid = max(brute.n_ids, key=lambda n: len(brute.candidates(n)))
    ranked = brute.candidates(nid)
    low, top = ranked[-1][0], ranked[0][0]
    gated = next(c for i, c in enumerate(brute.c_ids) if brute.block.gates[i, brute.n_ids.index(nid)])
    loaded.set_feedback_overrides(pinned={(low, nid), (gated, nid)}, hidden={(top, nid)})
    got = [m.citizen_id for m in loaded.candidates(nid, limit=1000, explain=False)]
    assert got[0] == low
    assert top not in got and gated not in got
    assert got[1:] == [c for c, _ in ranked if c not in (low, top)]
    for_low = [m.need_id for m in loaded.matches_for_citizen(low, limit=1000, explain=False)]
    assert for_low[0] == nid
    assert nid not in [m.need_id for m in loaded.matches_for_citizen(top, limit=1000, explain=False)]
    all_top = loaded.score_all(3)
    row = int(np.flatnonzero(all_top.need_ids == nid)[0])
    assert all_top.need_citizen_ids[row, 0] == low
    assert top not in all_top.need_citizen_ids[row].tolist()
    loaded.set_feedback_overrides(set(), set())
    assert [m.citizen_id for m in loaded.candidates(nid, limit=1000, explain=False)] == [c for c, _ in ranked]


def test_unknown_ids_raise_key_error(loaded: MatchEngine, brute: BruteForce) -> None:
    missing = max(brute.c_ids + brute.n_ids) + 1
    with pytest.raises(KeyError):
        loaded.candidates(missing)
    with pytest.raises(KeyError):
        loaded.matches_for_citizen(missing)
    with pytest.raises(KeyError):
        loaded.explain_pair(missing, brute.n_ids[0])
    with pytest.raises(KeyError):
        loaded.explain_pair(brute.c_ids[0], missing)
    with pytest.raises(KeyError):
        loaded.remove_citizen(missing)
    with pytest.raises(KeyError):
        loaded.remove_need(missing)


def test_bad_arguments_name_the_field(loaded: MatchEngine, brute: BruteForce, people: People) -> None:
    with pytest.raises(ValueError, match="limit"):
        loaded.candidates(brute.n_ids[0], limit=-1)
    with pytest.raises(ValueError, match="offset"):
        loaded.matches_for_citizen(brute.c_ids[0], offset=-3)
    with pytest.raises(ValueError, match="radius_km"):
        CandidateFilter(radius_km=-5)
    with pytest.raises(ValueError, match="min_score"):
        NeedFilter(min_score=1.5)
    with pytest.raises(ValueError, match="kinds"):
        NeedFilter(kinds={"ordinary"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="citizen_id"):
        loaded.upsert_citizen(-4, people[0][0][1])


def test_empty_engine(engine_factory: EngineFactory, people: People) -> None:
    engine = engine_factory()
    top = engine.score_all(3)
    assert top.need_ids.shape == (0,) and top.citizen_need_ids.shape == (0, 3)
    engine.upsert_need(*people[1][0])
    assert engine.candidates(people[1][0][0]) == []
    assert engine.score_all(3).need_citizen_ids.tolist() == [[-1, -1, -1]]


def test_concurrent_reads_during_writes(engine_factory: EngineFactory, postcodes: Postcodes) -> None:
    citizens, needs = random_people(6, 200, 30, postcodes)
    spare, _ = random_people(7, 60, 1, postcodes)
    engine = engine_factory()
    engine.bulk_load(citizens, needs)
    errors: list[BaseException] = []
    stop = threading.Event()
    reads = [0]

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                nid = needs[int(rng.integers(len(needs)))][0]
                for m in engine.candidates(nid, limit=10):
                    assert m.gates == []
                cid = citizens[int(rng.integers(len(citizens)))][0]
                engine.matches_for_citizen(cid, limit=5, explain=False)
                reads[0] += 1
        except BaseException as exc:  # any failure in a reader thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        for i, (sid, other) in enumerate(spare):
            engine.upsert_citizen(sid + 10**10, other)
            if i % 3 == 0:
                engine.remove_citizen(sid + 10**10)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert reads[0] > 0
    assert engine.score_all(2).citizen_ids.size == len(citizens) + len([i for i in range(len(spare)) if i % 3])


def test_remove_erases_the_profile_at_once(engine_factory: EngineFactory, people: People) -> None:
    engine = engine_factory()
    engine.bulk_load(*people)
    (cid, _), (other_id, other) = people[0][0], people[0][1]
    engine.upsert_citizen(other_id, other)  # a replaced profile, then erased
    for gone in (cid, other_id):
        engine.remove_citizen(gone)
        state = engine._state.citizens
        assert gone not in state.main_objects and gone not in state.delta_objects
        with pytest.raises(KeyError):
            engine.explain_pair(gone, people[1][0][0])
    assert all(m.citizen_id not in (cid, other_id) for m in engine.candidates(people[1][0][0], limit=1000))
