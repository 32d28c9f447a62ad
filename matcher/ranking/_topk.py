"""Blocked top-k both ways: every citizen × every need scored in bounded blocks, best k kept per need and per
citizen, gated pairs never kept.

Ordering is total and deterministic: score descending, then id ascending. To get it from ``np.argpartition``
(which does not keep ties in order) each pair gets one int64 *key* that sorts exactly that way::

    bit 62        pinned by a consultant (listed first)
    bits 32–61    the float32 score's bit pattern (monotonic for scores ≥ 0)
    bits 0–31     2**32 - 1 - rank of the other side's id among all ids (smaller id → larger key)

Padding is -1, so "key ≥ 0" means "a real, allowed pair". Keys are built only for *candidates*: per block,
the entries at or above an entity's running k-th best score (or, early on, the block's own k-th best), found
with float32 comparisons and ``np.partition``; gated and hidden pairs never become candidates.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matcher.ranking._blocking import GeoGroups, lower_bound_km, padded_reach

if TYPE_CHECKING:
    from matcher.features import CitizenFeatures, NeedFeatures
    from matcher.scoring import Scorer

log = logging.getLogger(__name__)

PIN_BIT = np.int64(1 << 62)
_LOW = np.int64(0xFFFFFFFF)
_SCORE_MASK = np.int64(0x3FFFFFFF)
OVERHEAD_BYTES_PER_PAIR = 14
"""What ranking adds per pair on top of the scorer: the float32 selection matrix, a copy for partitioning,
a boolean candidate mask and a little for the candidates themselves."""


def pairs_per_block(scorer_bytes_per_pair: int, memory_budget_mb: float) -> int:
    """How many pairs one block may hold so that scoring plus ranking stays within the budget (at least one)."""
    per_pair = scorer_bytes_per_pair + OVERHEAD_BYTES_PER_PAIR
    return max(1, int(memory_budget_mb * 1024 * 1024) // per_pair)


@dataclass(frozen=True, eq=False)
class TopK:
    """Best ``k`` both ways from one scoring run, for the nightly batch and the benchmarks.

    Per need (rows aligned with ``need_ids``): ``need_citizen_ids`` (n_needs × k, int64), ``need_scores`` and
    ``need_overqualification`` (float32), best first. Per citizen likewise with ``citizen_need_ids``. Where fewer
    than ``k`` allowed pairs exist the row is padded with id -1, score 0 and overqualification 0.
    """

    k: int
    need_ids: np.ndarray
    need_citizen_ids: np.ndarray
    need_scores: np.ndarray
    need_overqualification: np.ndarray
    citizen_ids: np.ndarray
    citizen_need_ids: np.ndarray
    citizen_scores: np.ndarray
    citizen_overqualification: np.ndarray

    _FIELDS = (
        "need_ids",
        "need_citizen_ids",
        "need_scores",
        "need_overqualification",
        "citizen_ids",
        "citizen_need_ids",
        "citizen_scores",
        "citizen_overqualification",
    )

    def save(self, path: Path) -> None:
        """Write all arrays to one ``.npz`` (no pickle)."""
        np.savez(path, k=np.int64(self.k), **{name: getattr(self, name) for name in self._FIELDS})

    @classmethod
    def load(cls, path: Path) -> TopK:
        with np.load(path, allow_pickle=False) as data:
            return cls(k=int(data["k"]), **{name: data[name] for name in cls._FIELDS})


def id_low_bits(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low key bits per row, ids sorted ascending). Ids must be unique; at most 2**32 of them."""
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids), dtype=np.int64)
    return _LOW - rank, ids[order]


def decode(keys: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys → (ids, scores); entries with key < 0 become id -1, score 0."""
    if len(sorted_ids) == 0:
        return np.full(keys.shape, -1, dtype=np.int64), np.zeros(keys.shape, dtype=np.float32)
    valid = keys >= 0
    safe = np.where(valid, keys, 0)
    bits = ((safe >> 32) & _SCORE_MASK).astype(np.uint32)
    scores = np.where(valid, bits.view(np.float32), np.float32(0)).astype(np.float32)
    ids = np.where(valid, sorted_ids[np.minimum(_LOW - (safe & _LOW), len(sorted_ids) - 1)], -1)
    return ids.astype(np.int64), scores


def key_floor(keys: np.ndarray) -> np.ndarray:
    """Per row of keys (n × k), the lowest value a candidate needs to possibly enter that top k, on the scale of
    the candidate-selection matrix (score; 2 for pinned): the score of the k-th best key, 0 while not full."""
    low = keys.min(axis=1) if keys.shape[1] else np.full(len(keys), -1, dtype=np.int64)
    bits = ((np.maximum(low, 0) >> 32) & _SCORE_MASK).astype(np.uint32)
    thr = bits.view(np.float32).copy()
    thr[low < 0] = 0.0
    thr[(low >= 0) & ((low & PIN_BIT) != 0)] = 2.0
    return thr


class _Running:
    """The best ``k`` keys (and overqualification) so far for each of ``n`` entities."""

    def __init__(self, n: int, k: int) -> None:
        self.keys = np.full((n, k), -1, dtype=np.int64)
        self.overq = np.zeros((n, k), dtype=np.float32)
        self.k = k

    def threshold(self, rows: np.ndarray) -> np.ndarray:
        """Per entity of ``rows``: see :func:`key_floor`."""
        return key_floor(self.keys[rows])

    def merge(self, ent: np.ndarray, keys: np.ndarray, overq: np.ndarray) -> None:
        """Merge candidate pairs (entity position, key, overqualification), grouped by ascending entity, into
        the running best k: one dense (entities × (k + most candidates)) argpartition."""
        if len(ent) == 0:
            return
        k = self.k
        starts = np.flatnonzero(np.r_[True, ent[1:] != ent[:-1]])
        touched = ent[starts]
        counts = np.diff(np.r_[starts, len(ent)])
        width = k + int(counts.max())
        group = np.repeat(np.arange(len(touched)), counts)
        slot = k + np.arange(len(ent)) - np.repeat(starts, counts)
        dense_keys = np.full((len(touched), width), -1, dtype=np.int64)
        dense_ov = np.zeros((len(touched), width), dtype=np.float32)
        dense_keys[:, :k] = self.keys[touched]
        dense_ov[:, :k] = self.overq[touched]
        dense_keys[group, slot] = keys
        dense_ov[group, slot] = overq
        best = np.argpartition(dense_keys, width - k, axis=1)[:, width - k :]
        self.keys[touched] = np.take_along_axis(dense_keys, best, axis=1)
        self.overq[touched] = np.take_along_axis(dense_ov, best, axis=1)

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """Keys best first (padding -1 last) and their overqualification. Rows that never got a candidate are
        left as they are: for one nightly block most needs are out of reach, and sorting them cost more than
        scoring."""
        keys, overq = self.keys.copy(), self.overq.copy()
        rows = np.flatnonzero((self.keys >= 0).any(axis=1))
        if len(rows):
            order = np.argsort(-self.keys[rows], axis=1, kind="stable")
            keys[rows] = np.take_along_axis(self.keys[rows], order, axis=1)
            overq[rows] = np.take_along_axis(self.overq[rows], order, axis=1)
        return keys, overq


def _candidates(select: np.ndarray, thr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of the entries of ``select`` (one row per entity) that may enter their row's top k, grouped by
    row: those at or above the row's running threshold and, when that leaves many (always at the start), at or
    above the row's k-th largest value in this block. Ties at a cut are all kept; the exact (score, id) order is
    decided on the keys in the merge."""
    thr = np.maximum(thr, np.float32(0))
    n_ent, length = select.shape
    mask = None
    if length > 4 * k and not thr.any():
        mask = None  # nothing seen yet for these rows: the block's own k-th value is the only useful cut
    else:
        mask = select >= thr[:, None]
        if length <= k or np.count_nonzero(mask) <= 2 * k * n_ent:
            return np.nonzero(mask)  # type: ignore[return-value]
    kth = np.partition(select, length - k, axis=1)[:, length - k]
    return np.nonzero(select >= np.maximum(thr, kth)[:, None])  # type: ignore[return-value]


def _keys(
    select: np.ndarray, total: np.ndarray, overq: np.ndarray, i: np.ndarray, j: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and overqualification of the candidate pairs (i, j); barred candidates get key -1."""
    sel = select[i, j]
    score = np.maximum(total[i, j], np.float32(0)) + np.float32(0)  # +0 turns -0.0 into +0.0
    keys = (score.view(np.uint32).astype(np.int64) << 32) | low
    keys[sel == 2] |= PIN_BIT
    keys[sel < 0] = -1
    return keys, overq[i, j]


def _override_mask(
    pairs: tuple[np.ndarray, np.ndarray] | None, c_rows: np.ndarray, n_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Block positions (i, j) of the given (citizen row, need row) pairs that fall in this block."""
    if pairs is None or len(pairs[0]) == 0:
        return None
    pc, pn = pairs
    ci = np.searchsorted(c_rows, pc)
    nj = np.searchsorted(n_rows, pn)
    ok = (ci < len(c_rows)) & (nj < len(n_rows))
    ok[ok] &= (c_rows[ci[ok]] == pc[ok]) & (n_rows[nj[ok]] == pn[ok])
    return (ci[ok], nj[ok]) if ok.any() else None


def plan_blocks(
    citizens: CitizenFeatures,
    c_rows: np.ndarray,
    needs: NeedFeatures,
    n_rows: np.ndarray,
    max_pairs: int,
    geo_blocking: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (citizen rows, need rows) blocks, each sorted and at most ``max_pairs`` pairs, that together cover
    every pair that could be allowed exactly once. With ``geo_blocking`` pairs certainly beyond the citizen's max
    commute are skipped (only valid when the commute gate is on)."""
    c_rows = np.sort(np.asarray(c_rows, dtype=np.int64))
    n_rows = np.sort(np.asarray(n_rows, dtype=np.int64))
    if not geo_blocking:
        yield from _tile(c_rows, n_rows, max_pairs)
        return
    cgroups = GeoGroups.build(citizens.lat, citizens.lon, c_rows, reach_km=citizens.max_commute_km)
    ngroups = GeoGroups.build(needs.lat, needs.lon, n_rows)
    n_lat, n_lon = needs.lat, needs.lon
    # citizens without coordinates may pair with every need, located or not
    yield from _tile(cgroups.unlocated, n_rows, max_pairs)
    # Consecutive groups (neighbouring cells, then bands) are batched while the batch's union of reachable needs
    # wastes little: many tiny blocks cost more in per-block overhead than a few extra (gated) pairs.
    batch_rows: list[np.ndarray] = []
    batch_needs = np.zeros(0, dtype=np.int64)
    useful = 0
    for g in range(cgroups.n_groups):
        rows = cgroups.group(g)
        reach = padded_reach(cgroups.reach_km[g])
        box = (cgroups.lat_lo[g], cgroups.lat_hi[g], cgroups.lon_lo[g], cgroups.lon_hi[g])
        cand = ngroups.groups_rows(np.flatnonzero(ngroups.lower_bound_to_box(*box) <= reach))
        if len(cand):
            # point-level bound against the group's box prunes needs in the corners of near cells
            bound = lower_bound_km(n_lat[cand], n_lat[cand], n_lon[cand], n_lon[cand], *box)
            cand = cand[bound <= reach]
        cand = np.sort(np.concatenate([cand, ngroups.unlocated]))
        union = np.union1d(batch_needs, cand)
        n_batch = sum(len(r) for r in batch_rows) + len(rows)
        if batch_rows and (
            n_batch * len(union) > BATCH_WASTE * (useful + len(rows) * len(cand))
            or n_batch * len(union) > max_pairs
        ):
            yield from _tile(np.sort(np.concatenate(batch_rows)), batch_needs, max_pairs)
            batch_rows, union, useful = [], cand, 0
        batch_rows.append(rows)
        batch_needs = union
        useful += len(rows) * len(cand)
    if batch_rows:
        yield from _tile(np.sort(np.concatenate(batch_rows)), batch_needs, max_pairs)


BATCH_WASTE = 1.1
"""Geographic groups are batched into one block while it holds at most this many times the pairs they need."""


MIN_BLOCK_ROWS = 256
"""Blocks are wide: as many needs as the budget allows with at least this many citizens. Every column tile
makes each citizen's top k pass through the merge again, while need-side thresholds tighten with every row
tile, so few column tiles keep the candidate count (and the merge work) low."""


def _tile(c_rows: np.ndarray, n_rows: np.ndarray, max_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Split c_rows × n_rows into rectangles of at most ``max_pairs`` pairs, wide rather than tall."""
    if len(c_rows) == 0 or len(n_rows) == 0:
        return
    cols = max(1, min(len(n_rows), max_pairs // min(len(c_rows), MIN_BLOCK_ROWS)))
    rows_per = max(1, max_pairs // cols)
    for i in range(0, len(c_rows), rows_per):
        for j in range(0, len(n_rows), cols):
            yield c_rows[i : i + rows_per], n_rows[j : j + cols]


SCORE_THREADS = max(1, min(4, os.cpu_count() or 1))
"""Blocks scored at the same time by :func:`blocked_topk` (the component passes and candidate selection are numpy
work that releases the GIL on big blocks; the merges into the running top k stay on the calling thread)."""


def blocked_topk(
    scorer: Scorer,
    citizens: CitizenFeatures,
    c_rows: np.ndarray,
    needs: NeedFeatures,
    n_rows: np.ndarray,
    k: int,
    memory_budget_mb: float,
    geo_blocking: bool,
    pinned: tuple[np.ndarray, np.ndarray] | None = None,
    hidden: tuple[np.ndarray, np.ndarray] | None = None,
    threads: int | None = None,
    need_floor: np.ndarray | None = None,
) -> TopK:
    """Top ``k`` citizens per need and needs per citizen over ``c_rows`` × ``n_rows``.

    ``pinned`` / ``hidden``: (citizen rows, need rows) of consultant overrides; pinned pairs rank first unless
    gated, hidden pairs never appear. Ids of the rows must be unique.

    ``need_floor`` (per need *row*, on the candidate scale: a score, 2 when the need's list is full of pins): a
    lower bound known from elsewhere on each need's final k-th best — the nightly run passes what other blocks
    already found. Pairs below it cannot enter that need's top k and are not kept, so the need lists returned are
    exact only above the floor (the nightly run merges them with the other blocks'); citizen lists are unaffected.

    ``threads`` (default :data:`SCORE_THREADS`) blocks are scored at once, each under an equal share of the
    memory budget. The result does not depend on it: a block's candidates are selected against a snapshot of the
    running thresholds, which only rise, so a later snapshot can only drop pairs that could never enter a top k,
    and the merge orders the candidates exactly by (score, id).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    threads = SCORE_THREADS if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    c_rows = np.sort(np.asarray(c_rows, dtype=np.int64))
    n_rows = np.sort(np.asarray(n_rows, dtype=np.int64))
    c_low_sub, c_sorted_ids = id_low_bits(citizens.ids[c_rows])
    n_low_sub, n_sorted_ids = id_low_bits(needs.ids[n_rows])
    c_low = np.zeros(citizens.n, dtype=np.int64)
    c_low[c_rows] = c_low_sub
    n_low = np.zeros(needs.n, dtype=np.int64)
    n_low[n_rows] = n_low_sub
    # running results are indexed by row position in these dense maps
    c_pos = np.full(citizens.n, -1, dtype=np.int64)
    c_pos[c_rows] = np.arange(len(c_rows))
    n_pos = np.full(needs.n, -1, dtype=np.int64)
    n_pos[n_rows] = np.arange(len(n_rows))
    per_need = _Running(len(n_rows), k)
    per_citizen = _Running(len(c_rows), k)
    running = threading.Lock()  # thresholds are read whole, never while a merge writes them
    max_pairs = pairs_per_block(scorer.bytes_per_pair(), memory_budget_mb / threads)
    started, n_pairs, n_blocks = time.perf_counter(), 0, 0

    def candidates(cb: np.ndarray, nb: np.ndarray) -> tuple[np.ndarray, ...]:
        block = scorer.score_block(citizens, cb, needs, nb)
        total = block.total
        # candidate selection works on one float32 matrix: -1 barred (gated, hidden), 2 pinned, else the score
        select = np.where(block.gates != 0, np.float32(-1), total)
        pinned_ij = _override_mask(pinned, cb, nb)
        if pinned_ij is not None:
            select[pinned_ij] = np.where(select[pinned_ij] >= 0, np.float32(2), np.float32(-1))
        hidden_ij = _override_mask(hidden, cb, nb)
        if hidden_ij is not None:
            select[hidden_ij] = -1
        overq = block.components["overqualification"]
        with running:
            need_thr = per_need.threshold(n_pos[nb])
            citizen_thr = per_citizen.threshold(c_pos[cb])
        if need_floor is not None:
            need_thr = np.maximum(need_thr, need_floor[nb])
        # per need: work on the transposed copy so that each need is a contiguous row
        j, i = _candidates(np.ascontiguousarray(select.T), need_thr, k)
        need_keys, need_ov = _keys(select, total, overq, i, j, c_low[cb][i])
        need_ent = n_pos[nb][j]
        i, j = _candidates(select, citizen_thr, k)
        citizen_keys, citizen_ov = _keys(select, total, overq, i, j, n_low[nb][j])
        return need_ent, need_keys, need_ov, c_pos[cb][i], citizen_keys, citizen_ov

    def merge(found: tuple[np.ndarray, ...]) -> None:
        need_ent, need_keys, need_ov, citizen_ent, citizen_keys, citizen_ov = found
        with running:
            per_need.merge(need_ent, need_keys, need_ov)
            per_citizen.merge(citizen_ent, citizen_keys, citizen_ov)

    blocks = plan_blocks(citizens, c_rows, needs, n_rows, max_pairs, geo_blocking)
    if threads == 1:
        for cb, nb in blocks:
            n_pairs += len(cb) * len(nb)
            n_blocks += 1
            merge(candidates(cb, nb))
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="score") as pool:
            pending: deque[Future[tuple[np.ndarray, ...]]] = deque()
            for cb, nb in blocks:
                n_pairs += len(cb) * len(nb)
                n_blocks += 1
                pending.append(pool.submit(candidates, cb, nb))
                if len(pending) >= threads:
                    merge(pending.popleft().result())
            while pending:
                merge(pending.popleft().result())
    log.info(
        "scored %d pairs in %d blocks in %.2f s (of %d possible)",
        n_pairs, n_blocks, time.perf_counter() - started, len(c_rows) * len(n_rows),
    )
    nk, nov = per_need.sorted()
    need_cids, need_scores = decode(nk, c_sorted_ids)
    ck, cov = per_citizen.sorted()
    cit_nids, cit_scores = decode(ck, n_sorted_ids)
    return TopK(
        k=k,
        need_ids=needs.ids[n_rows].astype(np.int64),
        need_citizen_ids=need_cids,
        need_scores=need_scores,
        need_overqualification=np.where(nk >= 0, nov, np.float32(0)).astype(np.float32),
        citizen_ids=citizens.ids[c_rows].astype(np.int64),
        citizen_need_ids=cit_nids,
        citizen_scores=cit_scores,
        citizen_overqualification=np.where(ck >= 0, cov, np.float32(0)).astype(np.float32),
    )
