"""The placement plan: a capacity-aware assignment over the top-k graph of a nightly run.

Why not greedy: when every citizen is simply proposed their best need, popular needs collect many proposals and
others none, and people with many options (often the over-qualified) take places that were the only option for
someone else. An optimal assignment maximises the *total* value instead.

The graph. An edge joins citizen c and need n when either lists the other in its top k (the union of both
directions). Each citizen takes at most one proposal; each need at most its ``positions`` (for a hybrid-internship
slot: its capacity; 0 = paused, gets nothing).

The objective. Maximise Σ value(c, n) over chosen edges with::

    value = score × priority(target group of c) − overqualification_cost × EQF levels above the need's level

(``priority`` from ``ScoringPolicy.target_group_priority``, 1.0 when missing; the levels above are the scorer's
``overqualification`` component × ``overqualification_levels``). Only edges of positive value are offered, so
leaving someone out is always allowed and never worse than a harmful proposal.

The solver. OR-Tools ``SimpleMinCostFlow`` on source → citizen (capacity 1) → need (capacity 1, cost −value) →
sink (capacity positions), plus a source → sink bypass with cost 0 that lets flow skip the graph. Costs are
integers: values are scaled by ``VALUE_SCALE`` and rounded. Arcs are added in a fixed order (citizen id, then
need id), so the same input gives the same plan.

The greedy baseline (computed in the same run for the report): all edges sorted by value descending, on the
same integer scale as the flow's costs (ties: citizen id, then need id ascending); an edge is taken when its
citizen is still free and its need has a position left. This is the strongest simple greedy (globally best pair
first), so the comparison flatters the baseline rather than the flow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.ranking._topk import TopK

log = logging.getLogger(__name__)

VALUE_SCALE = 10_000
"""Values are multiplied by this and rounded to integer costs (the flow solver works on integers)."""

OVERQUALIFIED_SHARE = 0.5
OVERQUALIFIED_LEVELS = 2.0
"""An assignment counts as over-qualified when the scorer's overqualification component is above
``OVERQUALIFIED_SHARE`` or the citizen's EQF level is at least ``OVERQUALIFIED_LEVELS`` above the need's level."""


@dataclass(frozen=True, eq=False)
class Edges:
    """The top-k graph as parallel arrays, one entry per distinct (citizen, need) pair, sorted by citizen id then
    need id. ``c_row`` / ``n_row`` index ``citizen_ids`` / ``need_ids`` of the :class:`TopK` it came from."""

    c_row: np.ndarray
    n_row: np.ndarray
    score: np.ndarray
    overqualification: np.ndarray
    value: np.ndarray

    @property
    def n(self) -> int:
        return len(self.c_row)


@dataclass(frozen=True, eq=False)
class Plan:
    """An assignment: parallel arrays of the chosen pairs (sorted by citizen id), and what it was built from."""

    method: str
    citizen_ids: np.ndarray
    need_ids: np.ndarray
    scores: np.ndarray
    overqualification: np.ndarray
    values: np.ndarray
    seconds: float

    @property
    def n(self) -> int:
        return len(self.citizen_ids)


def _priorities(target_groups: np.ndarray, group_names: Sequence[str], priority: Mapping[str, float]) -> np.ndarray:
    """Per citizen row: the policy's multiplier for its target group (codes index ``group_names``)."""
    table = np.array([float(priority.get(name, 1.0)) for name in group_names], dtype=np.float64)
    if np.any(table < 0):
        bad = [name for name in group_names if priority.get(name, 1.0) < 0]
        raise ValueError(f"target_group_priority: must not be negative, got {bad}")
    return table[np.asarray(target_groups, dtype=np.int64)] if len(table) else np.ones(len(target_groups))


def build_edges(
    topk: TopK,
    citizen_priority: np.ndarray,
    overqualification_cost: float,
    overqualification_levels: float,
) -> Edges:
    """The union of both directions' top-k lists with each edge's value; edges of value ≤ 0 are dropped.

    ``citizen_priority`` is aligned with ``topk.citizen_ids`` (see :func:`citizen_priorities`).
    """
    n_c, n_n = len(topk.citizen_ids), len(topk.need_ids)
    if len(citizen_priority) != n_c:
        raise ValueError(f"citizen_priority: expected {n_c} values (one per citizen), got {len(citizen_priority)}")
    if overqualification_cost < 0:
        raise ValueError(f"overqualification_cost: must be 0 or more, got {overqualification_cost}")
    c_order = np.argsort(topk.citizen_ids, kind="stable")
    c_sorted = topk.citizen_ids[c_order]
    n_order = np.argsort(topk.need_ids, kind="stable")
    n_sorted = topk.need_ids[n_order]

    def rows_of(ids: np.ndarray, sorted_ids: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(sorted_ids) and sorted_ids[0] >= 0 and sorted_ids[-1] <= 4 * len(sorted_ids) + 1024:
            # database ids are dense: a lookup table is one gather instead of a binary search per id
            table = np.full(int(sorted_ids[-1]) + 2, -1, dtype=np.int64)
            table[sorted_ids] = order
            rows = table[np.clip(ids, -1, int(sorted_ids[-1]) + 1)]
            return np.maximum(rows, 0), rows >= 0
        pos = np.minimum(np.searchsorted(sorted_ids, ids), max(len(sorted_ids) - 1, 0))
        ok = (ids >= 0) & (len(sorted_ids) > 0)
        if len(sorted_ids):
            ok &= sorted_ids[pos] == ids
        return order[pos] if len(order) else pos, ok

    # citizen direction: row i lists need ids
    k = topk.k
    c_rows_a = np.repeat(np.arange(n_c, dtype=np.int64), k)
    n_rows_a, ok_a = rows_of(topk.citizen_need_ids.reshape(-1), n_sorted, n_order)
    sc_a = topk.citizen_scores.reshape(-1)
    ov_a = topk.citizen_overqualification.reshape(-1)
    # need direction: row j lists citizen ids
    n_rows_b = np.repeat(np.arange(n_n, dtype=np.int64), k)
    c_rows_b, ok_b = rows_of(topk.need_citizen_ids.reshape(-1), c_sorted, c_order)
    sc_b = topk.need_scores.reshape(-1)
    ov_b = topk.need_overqualification.reshape(-1)
    c_rows = np.concatenate([c_rows_a[ok_a], c_rows_b[ok_b]])
    n_rows = np.concatenate([n_rows_a[ok_a], n_rows_b[ok_b]])
    score = np.concatenate([sc_a[ok_a], sc_b[ok_b]]).astype(np.float64)
    overq = np.concatenate([ov_a[ok_a], ov_b[ok_b]]).astype(np.float64)
    # one edge per pair, ordered by (citizen id, need id): the solver's arc order, hence determinism. One int64
    # key (rank of the citizen id, then of the need id) sorted once; np.unique keeps each pair's first entry.
    c_rank = np.empty(n_c, dtype=np.int64)
    c_rank[c_order] = np.arange(n_c, dtype=np.int64)
    n_rank = np.empty(n_n, dtype=np.int64)
    n_rank[n_order] = np.arange(n_n, dtype=np.int64)
    _, first = np.unique(c_rank[c_rows] * max(n_n, 1) + n_rank[n_rows], return_index=True)
    c_rows, n_rows, score, overq = c_rows[first], n_rows[first], score[first], overq[first]
    value = score * citizen_priority[c_rows] - overqualification_cost * overq * overqualification_levels
    keep = np.rint(value * VALUE_SCALE) >= 1
    return Edges(c_rows[keep], n_rows[keep], score[keep], overq[keep], value[keep])


def citizen_priorities(
    target_groups: np.ndarray, group_names: Sequence[str], priority: Mapping[str, float]
) -> np.ndarray:
    """Per citizen: the target-group multiplier of the policy. ``target_groups`` are codes into ``group_names``
    (as in ``CitizenFeatures.target_group`` with ``tuple(TargetGroup)``)."""
    return _priorities(target_groups, group_names, priority)


def _plan(method: str, topk: TopK, edges: Edges, chosen: np.ndarray, started: float) -> Plan:
    chosen = np.sort(chosen)  # edges are in citizen-id order already
    return Plan(
        method=method,
        citizen_ids=topk.citizen_ids[edges.c_row[chosen]].astype(np.int64),
        need_ids=topk.need_ids[edges.n_row[chosen]].astype(np.int64),
        scores=edges.score[chosen].astype(np.float32),
        overqualification=edges.overqualification[chosen].astype(np.float32),
        values=edges.value[chosen],
        seconds=time.perf_counter() - started,
    )


def _check_capacity(topk: TopK, capacity: np.ndarray) -> np.ndarray:
    capacity = np.asarray(capacity, dtype=np.int64)
    if capacity.shape != topk.need_ids.shape:
        raise ValueError(f"capacity: expected {len(topk.need_ids)} values (one per need), got {capacity.shape}")
    if np.any(capacity < 0):
        raise ValueError("capacity: positions must be 0 or more")
    return capacity


def assign_optimal(topk: TopK, edges: Edges, capacity: np.ndarray) -> Plan:
    """The value-maximising assignment (min-cost flow). ``capacity`` is aligned with ``topk.need_ids``."""
    from ortools.graph.python import min_cost_flow

    started = time.perf_counter()
    capacity = _check_capacity(topk, capacity)
    usable = capacity[edges.n_row] > 0
    idx = np.flatnonzero(usable)
    if len(idx) == 0:
        return _plan("min_cost_flow", topk, edges, idx, started)
    c_used, c_node = np.unique(edges.c_row[idx], return_inverse=True)
    n_used, n_node = np.unique(edges.n_row[idx], return_inverse=True)
    n_cit, n_need = len(c_used), len(n_used)
    source, sink = 0, 1 + n_cit + n_need
    cit_nodes = 1 + c_node.astype(np.int64)
    need_nodes = 1 + n_cit + n_node.astype(np.int64)
    costs = -np.rint(edges.value[idx] * VALUE_SCALE).astype(np.int64)
    tails = np.concatenate([
        np.zeros(n_cit, dtype=np.int64), cit_nodes, 1 + n_cit + np.arange(n_need, dtype=np.int64), [source],
    ])
    heads = np.concatenate([1 + np.arange(n_cit, dtype=np.int64), need_nodes, np.full(n_need, sink), [sink]])
    caps = np.concatenate([
        np.ones(n_cit, dtype=np.int64), np.ones(len(idx), dtype=np.int64), capacity[n_used], [n_cit],
    ])
    unit_costs = np.concatenate([np.zeros(n_cit, dtype=np.int64), costs, np.zeros(n_need + 1, dtype=np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, unit_costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = n_cit, -n_cit
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"placement plan: min-cost flow did not find an optimum (status {status})")
    edge_arcs = arcs[n_cit : n_cit + len(idx)]
    chosen = idx[flow.flows(edge_arcs) > 0]
    plan = _plan("min_cost_flow", topk, edges, chosen, started)
    log.info("placement plan: %d edges, %d assignments in %.2f s", len(idx), plan.n, plan.seconds)
    return plan


def assign_greedy(topk: TopK, edges: Edges, capacity: np.ndarray) -> Plan:
    """The greedy baseline: globally best pair first (see the module docstring)."""
    started = time.perf_counter()
    left = _check_capacity(topk, capacity).astype(np.int64)
    order = _greedy_order(edges.value)
    c_sorted, n_sorted = edges.c_row[order], edges.n_row[order]
    taken = np.zeros(len(topk.citizen_ids), dtype=bool)
    chosen: list[int] = []
    open_positions = int(left.sum())
    # Edges in order, in chunks: an edge whose citizen is already placed or whose need is already full when its
    # chunk starts can never be taken (both only fill up), and after the first rounds that is nearly all of
    # them, so one vectorised test drops them and only the survivors go through the exact one-by-one loop.
    start, chunk = 0, 4096
    while start < len(order) and open_positions:
        stop = min(len(order), start + chunk)
        c, n = c_sorted[start:stop], n_sorted[start:stop]
        alive = np.flatnonzero(~taken[c] & (left[n] > 0))
        took = 0
        for j, ci, ni in zip(alive.tolist(), c[alive].tolist(), n[alive].tolist(), strict=True):
            if not taken[ci] and left[ni] > 0:
                taken[ci] = True
                left[ni] -= 1
                chosen.append(start + j)
                took += 1
                open_positions -= 1
                if not open_positions:
                    break
        if took < 64 or took < len(alive) // 2:  # mostly refusals: take bigger steps
            chunk *= 2
        start = stop
    return _plan("greedy", topk, edges, order[np.asarray(chosen, dtype=np.int64)], started)


def _greedy_order(value: np.ndarray) -> np.ndarray:
    """Edge positions by value descending (on the flow's integer scale), ties by position ascending, i.e. citizen
    id then need id (edges are sorted that way).

    One int64 key per edge (scaled value above, position below) makes every key distinct, so an unstable sort
    of plain integers gives the exact order: several times faster than a stable argsort of the float values.
    """
    n = len(value)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    scaled = np.rint(np.asarray(value, dtype=np.float64) * VALUE_SCALE).astype(np.int64)
    shift = max(1, int(n - 1).bit_length())
    rank = scaled.max() - scaled  # ≥ 0: the best value first
    if int(rank.max()).bit_length() + shift > 62:
        return np.lexsort((np.arange(n), -scaled))  # values too spread for one key: the slow exact way
    keys = (rank << shift) | np.arange(n, dtype=np.int64)
    keys.sort()
    return keys & ((1 << shift) - 1)


def is_overqualified(overqualification: np.ndarray, overqualification_levels: float) -> np.ndarray:
    """The report's definition (see ``OVERQUALIFIED_SHARE``); a small tolerance absorbs float32 rounding."""
    overq = np.asarray(overqualification, dtype=np.float64)
    return (overq > OVERQUALIFIED_SHARE) | (overq * overqualification_levels >= OVERQUALIFIED_LEVELS - 1e-4)


def plan_summary(plan: Plan, capacity_total: int, overqualification_levels: float) -> dict[str, Any]:
    """The numbers the run reports per plan."""
    return {
        "method": plan.method,
        "citizens_with_proposal": len(np.unique(plan.citizen_ids)),
        "positions_filled": plan.n,
        "positions_total": int(capacity_total),
        "mean_score": round(float(plan.scores.mean()), 6) if plan.n else 0.0,
        "total_value": round(float(plan.values.sum()), 6),
        "overqualified_assignments": int(is_overqualified(plan.overqualification, overqualification_levels).sum()),
        "seconds": round(plan.seconds, 3),
    }


def placement_report(
    optimal: Plan, greedy: Plan, capacity: np.ndarray, overqualification_levels: float
) -> dict[str, Any]:
    """Both plans side by side, as stored with the run and printed by ``matcher rerank``."""
    total = int(np.asarray(capacity, dtype=np.int64).sum())
    return {
        "optimal": plan_summary(optimal, total, overqualification_levels),
        "greedy": plan_summary(greedy, total, overqualification_levels),
        "overqualified_definition": (
            f"overqualification > {OVERQUALIFIED_SHARE} or EQF level >= need's level + {OVERQUALIFIED_LEVELS:g}"
        ),
    }
