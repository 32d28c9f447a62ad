"""The placement plan: optimal against brute force, capacity, priorities, over-qualification, determinism, and
the greedy baseline never beating it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from matcher.ranking import TopK
from matcher.ranking._assign import (
    assign_greedy,
    assign_optimal,
    build_edges,
    citizen_priorities,
    is_overqualified,
    placement_report,
)


def random_topk(rng: np.random.Generator, n_c: int, n_n: int, k: int, density: float = 0.5) -> TopK:
    """A consistent top-k both ways from a random score matrix (0 = not allowed)."""
    scores = np.where(rng.random((n_c, n_n)) < density, rng.random((n_c, n_n)), 0).astype(np.float32)
    overq = np.where(rng.random((n_c, n_n)) < 0.3, rng.integers(0, 4, (n_c, n_n)) / 3, 0).astype(np.float32)
    c_ids = rng.permutation(np.arange(100, 100 + n_c))
    n_ids = rng.permutation(np.arange(500, 500 + n_n))

    def side(mat: np.ndarray, ov: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids = np.full((mat.shape[0], k), -1, dtype=np.int64)
        sc = np.zeros((mat.shape[0], k), dtype=np.float32)
        oq = np.zeros((mat.shape[0], k), dtype=np.float32)
        for i in range(mat.shape[0]):
            order = [j for j in np.lexsort((other, -mat[i])) if mat[i, j] > 0][:k]
            ids[i, : len(order)] = other[order]
            sc[i, : len(order)] = mat[i, order]
            oq[i, : len(order)] = ov[i, order]
        return ids, sc, oq

    cn, cs, co = side(scores, overq, n_ids)
    nc, ns, no = side(scores.T, overq.T, c_ids)
    return TopK(k, n_ids, nc, ns, no, c_ids, cn, cs, co)


def brute_force_value(top: TopK, edges, capacity: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """Best total value by the Hungarian method on needs expanded into one column per position."""
    slots = np.repeat(np.arange(len(top.need_ids)), capacity)
    value = np.zeros((len(top.citizen_ids), max(len(slots), 1)))
    for c, n, v in zip(edges.c_row, edges.n_row, edges.value, strict=True):
        value[c, slots == n] = v
    rows, cols = linear_sum_assignment(value, maximize=True)
    return float(value[rows, cols].sum())


@pytest.mark.parametrize("seed", range(6))
def test_flow_is_optimal_and_feasible(seed: int) -> None:
    rng = np.random.default_rng(seed)
    top = random_topk(rng, 30, 12, k=4)
    capacity = rng.integers(0, 4, len(top.need_ids))
    edges = build_edges(top, np.ones(len(top.citizen_ids)), 0.05, 3.0)
    plan = assign_optimal(top, edges, capacity)
    assert len(set(plan.citizen_ids.tolist())) == plan.n  # each citizen at most once
    for nid, cap in zip(top.need_ids, capacity, strict=True):
        assert (plan.need_ids == nid).sum() <= cap  # each need at most its positions
    assert plan.values.sum() == pytest.approx(brute_force_value(top, edges, capacity), abs=plan.n * 1e-4 + 1e-9)
    greedy = assign_greedy(top, edges, capacity)
    assert greedy.values.sum() <= plan.values.sum() + 1e-9
    again = assign_optimal(top, edges, capacity)
    assert np.array_equal(again.citizen_ids, plan.citizen_ids) and np.array_equal(again.need_ids, plan.need_ids)


def test_edges_are_the_union_of_both_directions() -> None:
    # citizen 1 lists need 10 only; need 11 lists citizen 1 only: both edges exist
    top = TopK(
        k=1,
        need_ids=np.array([10, 11]),
        need_citizen_ids=np.array([[2], [1]]),
        need_scores=np.array([[0.9], [0.4]], dtype=np.float32),
        need_overqualification=np.zeros((2, 1), dtype=np.float32),
        citizen_ids=np.array([1, 2]),
        citizen_need_ids=np.array([[10], [10]]),
        citizen_scores=np.array([[0.5], [0.9]], dtype=np.float32),
        citizen_overqualification=np.zeros((2, 1), dtype=np.float32),
    )
    edges = build_edges(top, np.ones(2), 0.0, 3.0)
    pairs = {(int(top.citizen_ids[c]), int(top.need_ids[n])) for c, n in zip(edges.c_row, edges.n_row, strict=True)}
    assert pairs == {(1, 10), (1, 11), (2, 10)}
    plan = assign_optimal(top, edges, np.array([1, 1]))
    # need 11 is in no citizen list: only the union of both directions lets citizen 1 be placed at all
    assert dict(zip(plan.citizen_ids.tolist(), plan.need_ids.tolist(), strict=True)) == {1: 11, 2: 10}


def test_capacity_zero_gets_nothing_and_priority_decides_a_contest() -> None:
    top = TopK(
        k=2,
        need_ids=np.array([10, 11]),
        need_citizen_ids=np.array([[1, 2], [1, 2]]),
        need_scores=np.array([[0.8, 0.7], [0.9, 0.9]], dtype=np.float32),
        need_overqualification=np.zeros((2, 2), dtype=np.float32),
        citizen_ids=np.array([1, 2]),
        citizen_need_ids=np.array([[11, 10], [11, 10]]),
        citizen_scores=np.array([[0.9, 0.8], [0.9, 0.7]], dtype=np.float32),
        citizen_overqualification=np.zeros((2, 2), dtype=np.float32),
    )
    groups = np.array([0, 1])  # citizen 1: jobparat, citizen 2: aktivitetsparat
    names = ["jobparat", "aktivitetsparat"]
    plan = assign_optimal(top, build_edges(top, citizen_priorities(groups, names, {}), 0, 3), np.array([1, 0]))
    assert plan.need_ids.tolist() == [10]  # need 11 is paused
    assert plan.citizen_ids.tolist() == [1]  # 0.8 beats 0.7 without priorities
    prio = citizen_priorities(groups, names, {"aktivitetsparat": 1.5})
    plan = assign_optimal(top, build_edges(top, prio, 0, 3), np.array([1, 0]))
    assert plan.citizen_ids.tolist() == [2]  # 0.7 × 1.5 beats 0.8
    with pytest.raises(ValueError, match="target_group_priority"):
        citizen_priorities(groups, names, {"jobparat": -1})


def test_overqualification_cost_steers_the_overqualified_away() -> None:
    # citizen 1 is over-qualified for need 10 (overq 1.0 = 3 levels) but slightly better; citizen 2 fits
    top = TopK(
        k=1,
        need_ids=np.array([10]),
        need_citizen_ids=np.array([[1]]),
        need_scores=np.array([[0.8]], dtype=np.float32),
        need_overqualification=np.array([[1.0]], dtype=np.float32),
        citizen_ids=np.array([1, 2]),
        citizen_need_ids=np.array([[10], [10]]),
        citizen_scores=np.array([[0.8], [0.75]], dtype=np.float32),
        citizen_overqualification=np.array([[1.0], [0.0]], dtype=np.float32),
    )
    cap = np.array([1])
    plain = assign_optimal(top, build_edges(top, np.ones(2), 0.0, 3.0), cap)
    costly = assign_optimal(top, build_edges(top, np.ones(2), 0.1, 3.0), cap)
    assert plain.citizen_ids.tolist() == [1] and costly.citizen_ids.tolist() == [2]
    report = placement_report(costly, assign_greedy(top, build_edges(top, np.ones(2), 0.1, 3.0), cap), cap, 3.0)
    assert report["optimal"]["overqualified_assignments"] == 0
    assert report["optimal"]["positions_total"] == 1
    assert is_overqualified(np.array([0.5, 0.6, 2 / 3]), 3.0).tolist() == [False, True, True]


def test_bad_input_names_the_field() -> None:
    top = random_topk(np.random.default_rng(0), 4, 3, k=2)
    with pytest.raises(ValueError, match="citizen_priority"):
        build_edges(top, np.ones(3), 0.1, 3.0)
    edges = build_edges(top, np.ones(4), 0.1, 3.0)
    with pytest.raises(ValueError, match="capacity"):
        assign_optimal(top, edges, np.array([1, 1]))
    with pytest.raises(ValueError, match="capacity"):
        assign_greedy(top, edges, np.array([1, -1, 1]))


def reference_greedy(top: TopK, edges, capacity: np.ndarray) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The definition, one edge at a time: integer-scaled value descending, then citizen id, then need id."""
    from matcher.ranking._assign import VALUE_SCALE

    c_ids, n_ids = top.citizen_ids[edges.c_row], top.need_ids[edges.n_row]
    scaled = np.rint(edges.value * VALUE_SCALE).astype(np.int64)
    left = dict(zip(top.need_ids.tolist(), capacity.tolist(), strict=True))
    taken: set[int] = set()
    out = set()
    for i in sorted(range(edges.n), key=lambda i: (-scaled[i], c_ids[i], n_ids[i])):
        c, n = int(c_ids[i]), int(n_ids[i])
        if c not in taken and left[n] > 0:
            taken.add(c)
            left[n] -= 1
            out.add((c, n))
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("tied", [False, True], ids=["distinct", "many-ties"])
def test_greedy_follows_its_definition_edge_by_edge(seed: int, tied: bool) -> None:
    rng = np.random.default_rng(100 + seed)
    top = random_topk(rng, 400, 60, k=8, density=0.7)
    if tied:  # few distinct scores: most orders are decided by the id tie-breaks
        for arr in (top.citizen_scores, top.need_scores):
            arr[:] = np.where(arr > 0, np.ceil(arr * 4) / 4, 0)
    capacity = rng.integers(0, 3, len(top.need_ids))
    edges = build_edges(top, np.ones(len(top.citizen_ids)), 0.05, 3.0)
    greedy = assign_greedy(top, edges, capacity)
    assert set(zip(greedy.citizen_ids.tolist(), greedy.need_ids.tolist(), strict=True)) == reference_greedy(
        top, edges, capacity
    )
