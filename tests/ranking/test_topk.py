"""Blocked top-k equals a brute-force ranking; ties break by id; gates, pins and hides; geographic blocking is
exact."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.ranking import TopK, blocked_topk, plan_blocks
from matcher.ranking._blocking import GeoGroups, lower_bound_km
from matcher.taxonomy import haversine_km
from tests.ranking.conftest import FakeCitizens, FakeNeeds, StandInScorer, make_sides


def brute_force(
    scorer: StandInScorer,
    citizens: FakeCitizens,
    needs: FakeNeeds,
    k: int,
    pinned: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    hidden: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[tuple[int, float]]]]:
    """Score everything in one block and sort each list in Python: (pinned desc, score desc, id asc)."""
    block = scorer.score_block(citizens, np.arange(citizens.n), needs, np.arange(needs.n))
    per_need: dict[int, list[tuple[int, float]]] = {}
    per_citizen: dict[int, list[tuple[int, float]]] = {}
    for j, nid in enumerate(needs.ids.tolist()):
        items = [
            (cid, float(block.total[i, j]))
            for i, cid in enumerate(citizens.ids.tolist())
            if block.gates[i, j] == 0 and (cid, nid) not in hidden
        ]
        items.sort(key=lambda t: (-((t[0], nid) in pinned), -t[1], t[0]))
        per_need[nid] = items[:k]
    for i, cid in enumerate(citizens.ids.tolist()):
        items = [
            (nid, float(block.total[i, j]))
            for j, nid in enumerate(needs.ids.tolist())
            if block.gates[i, j] == 0 and (cid, nid) not in hidden
        ]
        items.sort(key=lambda t: (-((cid, t[0]) in pinned), -t[1], t[0]))
        per_citizen[cid] = items[:k]
    return per_need, per_citizen


def as_lists(ids: np.ndarray, top_ids: np.ndarray, scores: np.ndarray) -> dict[int, list[tuple[int, float]]]:
    return {
        int(owner): [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        for owner, row_ids, row_scores in zip(ids, top_ids, scores, strict=True)
    }


@pytest.mark.parametrize("geo_blocking", [False, True])
@pytest.mark.parametrize("budget_mb", [0.002, 0.05, 64])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("threads", [1, 3])
def test_blocked_equals_brute_force(
    scorer: StandInScorer, geo_blocking: bool, budget_mb: float, seed: int, threads: int
) -> None:
    citizens, needs = make_sides(seed, 150, 70)
    k = 7
    top = blocked_topk(
        scorer, citizens, np.arange(citizens.n), needs, np.arange(needs.n), k, budget_mb, geo_blocking,
        threads=threads,
    )
    want_need, want_citizen = brute_force(scorer, citizens, needs, k)
    assert as_lists(top.need_ids, top.need_citizen_ids, top.need_scores) == want_need
    assert as_lists(top.citizen_ids, top.citizen_need_ids, top.citizen_scores) == want_citizen
    # something was actually ranked and something was actually gated, or the comparison proves little
    assert (top.need_citizen_ids >= 0).sum() > needs.n
    assert any(len(v) < k for v in want_citizen.values()) or any(len(v) < k for v in want_need.values())


def test_k_larger_than_either_side_pads(scorer: StandInScorer) -> None:
    citizens, needs = make_sides(3, 9, 5)
    top = blocked_topk(scorer, citizens, np.arange(citizens.n), needs, np.arange(needs.n), 20, 1, True)
    assert top.need_citizen_ids.shape == (5, 20)
    want_need, want_citizen = brute_force(scorer, citizens, needs, 20)
    assert as_lists(top.need_ids, top.need_citizen_ids, top.need_scores) == want_need
    assert as_lists(top.citizen_ids, top.citizen_need_ids, top.citizen_scores) == want_citizen
    pad = top.need_citizen_ids < 0
    assert pad.any() and (top.need_scores[pad] == 0).all() and (top.need_overqualification[pad] == 0).all()


def test_subset_of_rows(scorer: StandInScorer) -> None:
    citizens, needs = make_sides(4, 60, 30)
    c_rows = np.arange(0, 60, 2)
    n_rows = np.arange(1, 30, 3)
    top = blocked_topk(scorer, citizens, c_rows, needs, n_rows, 5, 0.01, True)
    assert set(top.citizen_ids.tolist()) == set(citizens.ids[c_rows].tolist())
    assert set(top.need_citizen_ids[top.need_citizen_ids >= 0].tolist()) <= set(citizens.ids[c_rows].tolist())


def test_ties_break_by_id_ascending(scorer: StandInScorer) -> None:
    # every citizen at the same place with the same skills: equal scores, so order is by id alone
    citizens, needs = make_sides(5, 40, 6, unknown_share=0.0)
    same = FakeCitizens(
        citizens.ids, np.full(40, 55.6), np.full(40, 9.5), np.full(40, 50, np.float32), citizens.skills[[0] * 40]
    )
    here = FakeNeeds(needs.ids, np.full(needs.n, 55.6), np.full(needs.n, 9.5), needs.essential)
    top = blocked_topk(scorer, same, np.arange(40), here, np.arange(needs.n), 10, 0.002, False)
    for row_ids, row_scores in zip(top.need_citizen_ids, top.need_scores, strict=True):
        real = row_ids[row_ids >= 0]
        assert len(real) == 10
        assert len(set(row_scores.tolist())) == 1
        assert (np.diff(real) > 0).all()


def test_never_returns_a_gated_pair(scorer: StandInScorer) -> None:
    for seed in range(4):
        citizens, needs = make_sides(10 + seed, 80, 40, spread_deg=5.0)
        top = blocked_topk(scorer, citizens, np.arange(80), needs, np.arange(40), 15, 0.01, True)
        block = scorer.score_block(citizens, np.arange(80), needs, np.arange(40))
        c_row = {int(i): r for r, i in enumerate(citizens.ids)}
        n_row = {int(i): r for r, i in enumerate(needs.ids)}
        for nid, cids in zip(top.need_ids, top.need_citizen_ids, strict=True):
            for cid in cids[cids >= 0]:
                assert block.gates[c_row[int(cid)], n_row[int(nid)]] == 0
        for cid, nids in zip(top.citizen_ids, top.citizen_need_ids, strict=True):
            for nid in nids[nids >= 0]:
                assert block.gates[c_row[int(cid)], n_row[int(nid)]] == 0


def test_pinned_first_hidden_never(scorer: StandInScorer) -> None:
    citizens, needs = make_sides(7, 50, 20)
    block = scorer.score_block(citizens, np.arange(50), needs, np.arange(20))
    ok_i, ok_j = np.nonzero(block.gates == 0)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(ok_i), 30, replace=False)
    pinned = {(int(citizens.ids[ok_i[p]]), int(needs.ids[ok_j[p]])) for p in pick[:15]}
    hidden = {(int(citizens.ids[ok_i[p]]), int(needs.ids[ok_j[p]])) for p in pick[15:]}
    gated_i, gated_j = np.nonzero(block.gates != 0)
    pinned |= {(int(citizens.ids[gated_i[0]]), int(needs.ids[gated_j[0]]))}  # a pinned gated pair stays out

    def rows(pairs: set[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        c_row = {int(i): r for r, i in enumerate(citizens.ids)}
        n_row = {int(i): r for r, i in enumerate(needs.ids)}
        arr = np.array([(c_row[c], n_row[n]) for c, n in pairs])
        return arr[:, 0], arr[:, 1]

    top = blocked_topk(
        scorer, citizens, np.arange(50), needs, np.arange(20), 6, 0.005, True, pinned=rows(pinned), hidden=rows(hidden)
    )
    want_need, want_citizen = brute_force(scorer, citizens, needs, 6, pinned=pinned, hidden=hidden)
    assert as_lists(top.need_ids, top.need_citizen_ids, top.need_scores) == want_need
    assert as_lists(top.citizen_ids, top.citizen_need_ids, top.citizen_scores) == want_citizen
    listed = {(int(c), int(n)) for n, cs in zip(top.need_ids, top.need_citizen_ids, strict=True) for c in cs if c >= 0}
    assert not listed & hidden
    assert listed & pinned


def test_topk_save_load_round_trip(scorer: StandInScorer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    citizens, needs = make_sides(8, 30, 10)
    top = blocked_topk(scorer, citizens, np.arange(30), needs, np.arange(10), 4, 1, True)
    top.save(tmp_path / "top.npz")
    back = TopK.load(tmp_path / "top.npz")
    assert back.k == 4
    for name in TopK._FIELDS:
        np.testing.assert_array_equal(getattr(back, name), getattr(top, name))


def test_k_must_be_positive(scorer: StandInScorer) -> None:
    citizens, needs = make_sides(9, 5, 5)
    with pytest.raises(ValueError, match="k must be"):
        blocked_topk(scorer, citizens, np.arange(5), needs, np.arange(5), 0, 1, True)


# ------------------------------------------------------------------------------------------ geographic blocking


def test_lower_bound_never_exceeds_true_distance() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    lat1, lat2 = rng.uniform(54, 58, n), rng.uniform(54, 58, n)
    lon1, lon2 = rng.uniform(7.5, 15.5, n), rng.uniform(7.5, 15.5, n)
    half = rng.uniform(0, 0.4, (4, n))
    box = (lat1 - half[0], lat1 + half[1], lon1 - half[2], lon1 + half[3])
    bound = lower_bound_km(*box, lat2, lat2, lon2, lon2)
    true = haversine_km(lat1, lon1, lat2, lon2)
    assert (bound <= true + 1e-9).all()
    assert (bound > 0.5 * true).mean() > 0.5  # and it is not trivially 0


def test_plan_covers_every_reachable_pair_once() -> None:
    citizens, needs = make_sides(11, 400, 150, spread_deg=6.0)
    seen = np.zeros((citizens.n, needs.n), dtype=np.int64)
    for cb, nb in plan_blocks(citizens, np.arange(citizens.n), needs, np.arange(needs.n), 500, True):  # type: ignore[arg-type]
        assert len(cb) * len(nb) <= 500
        seen[np.ix_(cb, nb)] += 1
    assert seen.max() == 1
    dist = haversine_km(citizens.lat[:, None], citizens.lon[:, None], needs.lat[None, :], needs.lon[None, :])
    reachable = ~(dist > citizens.max_commute_km[:, None])  # NaN distance: unknown place, always reachable
    assert (seen[reachable] == 1).all()
    assert seen.sum() < 0.8 * seen.size  # blocking skipped a good share of far pairs


def test_groups_hold_every_row_once() -> None:
    citizens, _ = make_sides(12, 300, 1)
    groups = GeoGroups.build(citizens.lat, citizens.lon, np.arange(300), reach_km=citizens.max_commute_km)
    rows = np.concatenate([groups.groups_rows(np.arange(groups.n_groups)), groups.unlocated])
    assert sorted(rows.tolist()) == list(range(300))
    assert np.isnan(citizens.lat[groups.unlocated]).all()


@pytest.mark.parametrize("radius_km", [None, 8.0, 40.0])
def test_mask_within_marks_the_rows_within_and_nothing_else(radius_km: float | None) -> None:
    citizens, _ = make_sides(13, 400, 1)
    grouped = np.arange(0, 400, 3)  # rows left out of the grouping are never marked
    groups = GeoGroups.build(citizens.lat, citizens.lon, grouped, reach_km=citizens.max_commute_km)
    assert len(groups.unlocated) and groups.n_groups > 1
    rng = np.random.default_rng(13)
    marked_some = False
    for lat, lon in zip(rng.uniform(54.6, 57.7, 25), rng.uniform(8.1, 12.6, 25), strict=True):
        listed = groups.rows_within(lat, lon, radius_km)
        for unlocated in (True, False):
            expected = np.sort(np.concatenate([listed, groups.unlocated]) if unlocated else listed)
            mask = groups.mask_within(lat, lon, radius_km, unlocated=unlocated)
            assert mask.shape == (400,)
            np.testing.assert_array_equal(np.flatnonzero(mask), expected)
            marked_some |= len(listed) > 0
    assert marked_some


def test_need_floor_keeps_every_entry_at_or_above_it(scorer: StandInScorer) -> None:
    """A floor at each need's true k-th best score changes nothing; a higher one drops entries (it is used)."""
    citizens, needs = make_sides(2, 150, 70)
    k = 7
    args = (scorer, citizens, np.arange(citizens.n), needs, np.arange(needs.n), k, 0.002, True)
    plain = blocked_topk(*args)
    full = plain.need_citizen_ids[:, -1] >= 0
    floor = np.where(full, plain.need_scores[:, -1], np.float32(0)).astype(np.float32)
    floored = blocked_topk(*args, need_floor=floor, threads=2)
    assert np.array_equal(floored.need_citizen_ids, plain.need_citizen_ids)
    assert np.array_equal(floored.need_scores, plain.need_scores)
    assert np.array_equal(floored.citizen_need_ids, plain.citizen_need_ids)
    above = blocked_topk(*args, need_floor=np.where(full, floor + np.float32(1e-3), np.float32(0)))
    assert full.any()
    assert (above.need_citizen_ids[full] >= 0).sum() < (plain.need_citizen_ids[full] >= 0).sum()
    assert np.array_equal(above.citizen_need_ids, plain.citizen_need_ids)  # citizen lists never use the floor


@pytest.mark.parametrize("seed", range(4))
def test_candidates_keep_every_entry_of_each_rows_top_k(seed: int) -> None:
    """The candidate cut keeps every entry at or above its row's k-th largest value and its running threshold,
    with ties, gated (-1) and pinned (2) entries mixed in, and never a gated one."""
    from matcher.ranking._topk import _candidates

    rng = np.random.default_rng(seed)
    k = 5
    select = rng.choice(np.linspace(0, 1, 11, dtype=np.float32), size=(40, 97))  # many ties
    select[rng.random(select.shape) < 0.3] = -1
    select[rng.random(select.shape) < 0.01] = 2
    select[:10] = np.sort(select[:10], axis=1)  # the best columns of these rows side by side
    kth = np.sort(select, axis=1)[:, -k]
    for thr in (np.zeros(len(select), np.float32), rng.choice([0, 0.3, 0.9], len(select)).astype(np.float32)):
        i, j = _candidates(select, thr, k)
        kept = np.zeros(select.shape, bool)
        kept[i, j] = True
        must = (select >= kth[:, None]) & (select >= thr[:, None]) & (select >= 0)
        assert not (must & ~kept).any()
        assert (select[i, j] >= 0).all()
