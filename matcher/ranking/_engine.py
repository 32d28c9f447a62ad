"""The engine facade the API and the CLI call: an in-memory index of citizens and needs kept in step with writes,
answering ranked queries both ways.

Layout. Each side (citizens, needs) holds a *main* feature block, built in bulk, plus a small *delta* block for
recent upserts, a tombstone mask over main rows that were removed or replaced, and the domain objects by id for
explanations. When the delta grows past a share of the main block the two are compacted into a new main. Queries
score a need against both blocks.

Concurrency. All state lives in one immutable :class:`_State`; a write builds a new one under an RLock and swaps
the reference, so a read that picked up the old reference finishes on a consistent snapshot without locking.
Copies per write are small (the tombstone mask, the delta block and its dicts); the main block and its object
dict are shared and never mutated.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

import numpy as np

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, Explanation, Match, NeedKind, TargetGroup, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking._blocking import GeoGroups, rows_within_radius
from matcher.ranking._filters import CandidateFilter, NeedFilter
from matcher.ranking._topk import TopK, blocked_topk, pairs_per_block
from matcher.scoring import NeedText, RuleScorer, ScoreBlock, Scorer, explain, gate_names, need_text
from matcher.taxonomy import Postcodes, Taxonomy

log = logging.getLogger(__name__)

AD_HOC_NEED_ID = -1
"""``need_id`` of the matches :meth:`MatchEngine.search` returns: the ad hoc need is not stored."""

COMPACT_MIN_ROWS = 256
COMPACT_FRACTION = 0.02
"""The delta block is merged into the main block (and tombstoned rows dropped) when the delta, or the number of
tombstones, passes both of these: the larger of a fixed count and a share of the main block."""

_TARGET_GROUPS: tuple[TargetGroup, ...] = tuple(TargetGroup)
_NEED_KINDS: tuple[NeedKind, ...] = tuple(NeedKind)


F = TypeVar("F", CitizenFeatures, NeedFeatures)
D = TypeVar("D", Citizen, Vacancy)


@dataclass(frozen=True, eq=False)
class _Side(Generic[F, D]):
    """One side of the index at one moment. ``main_objects`` is never mutated once built; the delta block holds
    live rows only (it is small, so it is rebuilt on each write rather than tombstoned)."""

    main: F | None = None
    main_alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    main_row: Mapping[int, int] = field(default_factory=dict)
    main_objects: Mapping[int, D] = field(default_factory=dict)
    groups: GeoGroups | None = None
    delta: F | None = None
    delta_row: Mapping[int, int] = field(default_factory=dict)
    delta_objects: Mapping[int, D] = field(default_factory=dict)

    def locate(self, item_id: int) -> tuple[F, int, D]:
        """(feature block, row, domain object) of a live id; KeyError when absent."""
        row = self.delta_row.get(item_id)
        if row is not None and self.delta is not None:
            return self.delta, row, self.delta_objects[item_id]
        row = self.main_row.get(item_id)
        if row is not None and self.main is not None and self.main_alive[row]:
            return self.main, row, self.main_objects[item_id]
        raise KeyError(item_id)

    def object(self, item_id: int) -> D:
        """The domain object of a live id."""
        obj = self.delta_objects.get(item_id)
        return obj if obj is not None else self.main_objects[item_id]

    def __contains__(self, item_id: int) -> bool:
        try:
            self.locate(item_id)
        except KeyError:
            return False
        return True

    def blocks(self) -> list[tuple[F, np.ndarray, GeoGroups | None]]:
        """(features, alive mask, geo groups or None) for the main and the delta block."""
        out: list[tuple[F, np.ndarray, GeoGroups | None]] = []
        if self.main is not None:
            out.append((self.main, self.main_alive, self.groups))
        if self.delta is not None:
            out.append((self.delta, np.ones(self.delta.n, dtype=bool), None))
        return out

    @property
    def n_live(self) -> int:
        return int(self.main_alive.sum()) + len(self.delta_row)

    def without(self, item_id: int, forget: bool = False) -> _Side[F, D]:
        """This side with ``item_id`` gone (no error when absent). ``forget`` also drops the domain object of a
        main row at once (an erase), at the cost of copying the main object dict; a plain replace leaves it
        unreachable until the next compaction."""
        side = self
        if item_id in self.delta_row and self.delta is not None:
            keep = np.flatnonzero(self.delta.ids != item_id)
            delta = self.delta.take(keep) if len(keep) else None
            side = replace(
                side,
                delta=delta,
                delta_row={} if delta is None else {int(i): r for r, i in enumerate(delta.ids.tolist())},
                delta_objects={i: o for i, o in self.delta_objects.items() if i != item_id},
            )
        row = self.main_row.get(item_id)
        if row is not None and self.main_alive[row]:
            alive = self.main_alive.copy()
            alive[row] = False
            side = replace(side, main_alive=alive)
        if forget and item_id in self.main_objects:
            side = replace(side, main_objects={i: o for i, o in self.main_objects.items() if i != item_id})
        return side

    def with_delta(self, item_id: int, obj: D, feats: F) -> _Side[F, D]:
        """This side with the one-row feature block of ``item_id`` added to the delta (replacing any old row)."""
        side = self.without(item_id)
        delta = feats if side.delta is None else type(feats).concat([side.delta, feats])
        return replace(
            side,
            delta=delta,
            delta_row={**side.delta_row, item_id: delta.n - 1},
            delta_objects={**side.delta_objects, item_id: obj},
        )

    def needs_compaction(self) -> bool:
        main_n = 0 if self.main is None else self.main.n
        limit = max(COMPACT_MIN_ROWS, COMPACT_FRACTION * main_n)
        delta_n = 0 if self.delta is None else self.delta.n
        return delta_n > limit or main_n - int(self.main_alive.sum()) > limit

    def compacted(self, extra: F | None = None, extra_objects: Mapping[int, D] | None = None) -> _Side[F, D]:
        """Live rows of main and delta (plus ``extra``, whose ids must not be live here) as one new main block."""
        if extra is None and self.delta is None and (self.main is None or self.main_alive.all()):
            return self  # already compact: no copy of the main block
        parts: list[F] = []
        if self.main is not None and self.main_alive.any():
            parts.append(self.main.take(np.flatnonzero(self.main_alive)))
        if self.delta is not None:
            parts.append(self.delta)
        if extra is not None and extra.n:
            parts.append(extra)
        if not parts:
            return _Side()
        main = parts[0] if len(parts) == 1 else type(parts[0]).concat(parts)
        extra_objects = extra_objects or {}
        ids = main.ids.tolist()
        objects: dict[int, D] = {}
        for i in ids:
            if i in extra_objects:
                objects[i] = extra_objects[i]
            elif i in self.delta_objects:
                objects[i] = self.delta_objects[i]
            else:
                objects[i] = self.main_objects[i]
        reach = main.max_commute_km if isinstance(main, CitizenFeatures) else None
        groups = GeoGroups.build(main.lat, main.lon, np.arange(main.n), reach_km=reach)
        return _Side(
            main=main,
            main_alive=np.ones(main.n, dtype=bool),
            main_row={i: r for r, i in enumerate(ids)},
            main_objects=objects,
            groups=groups,
        )


@dataclass(frozen=True)
class _Overrides:
    """Consultant overrides, indexed both ways."""

    pinned: frozenset[tuple[int, int]] = frozenset()
    hidden: frozenset[tuple[int, int]] = frozenset()
    pinned_by_need: Mapping[int, frozenset[int]] = field(default_factory=dict)
    hidden_by_need: Mapping[int, frozenset[int]] = field(default_factory=dict)
    pinned_by_citizen: Mapping[int, frozenset[int]] = field(default_factory=dict)
    hidden_by_citizen: Mapping[int, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> _Overrides:
        def index(pairs: set[tuple[int, int]], side: int) -> dict[int, frozenset[int]]:
            out: dict[int, set[int]] = {}
            for pair in pairs:
                out.setdefault(pair[side], set()).add(pair[1 - side])
            return {key: frozenset(value) for key, value in out.items()}

        return cls(
            pinned=frozenset(pinned),
            hidden=frozenset(hidden),
            pinned_by_need=index(pinned, 1),
            hidden_by_need=index(hidden, 1),
            pinned_by_citizen=index(pinned, 0),
            hidden_by_citizen=index(hidden, 0),
        )


@dataclass(frozen=True)
class _State:
    citizens: _Side[CitizenFeatures, Citizen] = field(default_factory=_Side)
    needs: _Side[NeedFeatures, Vacancy] = field(default_factory=_Side)
    overrides: _Overrides = field(default_factory=_Overrides)


@dataclass(frozen=True, eq=False)
class _Scored:
    """One scored slice of a one-against-many query: ids of the many, and the block's scores."""

    ids: np.ndarray
    block: ScoreBlock
    axis: int  # 0: rows are citizens (one need column); 1: columns are needs (one citizen row)

    def column(self, values: np.ndarray) -> np.ndarray:
        return values[:, 0] if self.axis == 0 else values[0, :]


def _check_id(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _check_page(limit: int, offset: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, got {offset}")


def _page_values(page: list[tuple[_Scored, int, int]]) -> list[tuple[dict[str, float], int, float]]:
    """(components, gate bits, total) of each entry of a one-against-many page (see ``MatchEngine._select``),
    each slice's values read for all its entries at once: a few gathers instead of ten numpy scalar reads a
    match. The values are the float32 scores as Python floats, as ``float(values[i, j])`` gives them."""
    values: list[tuple[dict[str, float], int, float]] = [({}, 0, 0.0)] * len(page)
    by_part: dict[int, tuple[_Scored, list[int], list[int]]] = {}
    for k, (part, pos, _) in enumerate(page):
        entry = by_part.setdefault(id(part), (part, [], []))
        entry[1].append(pos)
        entry[2].append(k)
    for part, positions, ks in by_part.values():
        at = np.array(positions, dtype=np.intp)
        columns = {name: part.column(v)[at].tolist() for name, v in part.block.components.items()}
        gates = part.column(part.block.gates)[at].tolist()
        totals = part.column(part.block.total)[at].tolist()
        for n, k in enumerate(ks):
            values[k] = ({name: col[n] for name, col in columns.items()}, gates[n], totals[n])
    return values


def _top_order(score: np.ndarray, ids: np.ndarray, pinned: np.ndarray | None, m: int) -> np.ndarray:
    """Indices of the best ``m`` entries: pinned first (``None``: none is), then score descending, then id
    ascending. Exact under ties: everything tied with the m-th score is sorted, not cut arbitrarily."""
    # scores lie in [0, 1]: a pin adds 2, which puts it above every score (float64, so the sum is exact)
    rank = score if pinned is None else score.astype(np.float64) + 2.0 * pinned
    n = len(rank)
    if m <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if m < n:
        threshold = np.partition(rank, n - m)[n - m]
        cand = np.flatnonzero(rank >= threshold)
    else:
        cand = np.arange(n)
    order = np.lexsort((ids[cand], -rank[cand]))
    return cand[order[:m]]


class MatchEngine:
    """Ranked matches both ways over an in-memory index, for the API and the nightly batch.

    Reads (``candidates``, ``search``, ``matches_for_citizen``, ``explain_pair``, ``score_all``) may run
    concurrently with each other and with writes. Unknown ids raise KeyError; bad arguments ValueError.
    Gated pairs are never listed (``explain_pair`` shows them on request); consultant overrides put pinned pairs
    first and never list hidden ones. Order: pinned first, then score descending, then id ascending.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        postcodes: Postcodes,
        policy: ScoringPolicy,
        memory_budget_mb: int = 512,
        today: dt.date | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        if memory_budget_mb < 1:
            raise ValueError(f"memory_budget_mb must be at least 1, got {memory_budget_mb}")
        self.taxonomy = taxonomy
        self.postcodes = postcodes
        self.policy = policy
        self.memory_budget_mb = memory_budget_mb
        self.today = today
        # the scorer that ranks: the rule weights unless a learned re-ranker is given (matcher.ranking.choose_scorer)
        self._scorer: Scorer = scorer if scorer is not None else RuleScorer(policy, taxonomy)
        self._max_pairs = pairs_per_block(self._scorer.bytes_per_pair(), memory_budget_mb)
        self._lock = threading.RLock()
        self._state = _State()

    @property
    def scorer(self) -> Scorer:
        """The scorer that ranks (a :class:`~matcher.scoring.RuleScorer` or a learned re-ranker)."""
        return self._scorer

    # ------------------------------------------------------------------------------------------------ writes

    def _day(self) -> dt.date:
        # a fixed ``today`` makes results reproducible (tests, benchmarks); otherwise the calendar moves on
        return self.today or dt.date.today()

    def _citizen_features(self, items: Sequence[tuple[int, Citizen]]) -> CitizenFeatures:
        return CitizenFeatures.build(items, self.taxonomy, self.postcodes, self.policy, self._day())

    def _need_features(self, items: Sequence[tuple[int, Vacancy]]) -> NeedFeatures:
        return NeedFeatures.build(items, self.taxonomy, self.postcodes, self.policy, self._day())

    def upsert_citizen(self, citizen_id: int, citizen: Citizen) -> None:
        """Add or replace one citizen."""
        _check_id("citizen_id", citizen_id)
        feats = self._citizen_features([(citizen_id, citizen)])
        with self._lock:
            side = self._state.citizens.with_delta(int(citizen_id), citizen, feats)
            if side.needs_compaction():
                side = side.compacted()
            self._state = replace(self._state, citizens=side)

    def remove_citizen(self, citizen_id: int) -> None:
        """Remove one citizen (GDPR erase: the profile is dropped at once, its feature row is tombstoned and
        leaves memory at the next compaction). KeyError when unknown."""
        with self._lock:
            if citizen_id not in self._state.citizens:
                raise KeyError(citizen_id)
            side = self._state.citizens.without(int(citizen_id), forget=True)
            if side.needs_compaction():
                side = side.compacted()
            self._state = replace(self._state, citizens=side)

    def upsert_need(self, need_id: int, need: Vacancy) -> None:
        """Add or replace one need (vacancy or slot)."""
        _check_id("need_id", need_id)
        feats = self._need_features([(need_id, need)])
        with self._lock:
            side = self._state.needs.with_delta(int(need_id), need, feats)
            if side.needs_compaction():
                side = side.compacted()
            self._state = replace(self._state, needs=side)

    def remove_need(self, need_id: int) -> None:
        """Remove one need. KeyError when unknown."""
        with self._lock:
            if need_id not in self._state.needs:
                raise KeyError(need_id)
            side = self._state.needs.without(int(need_id), forget=True)
            if side.needs_compaction():
                side = side.compacted()
            self._state = replace(self._state, needs=side)

    def bulk_load(self, citizens: Iterable[tuple[int, Citizen]], needs: Iterable[tuple[int, Vacancy]]) -> None:
        """Add or replace many citizens and needs at once (features built in one pass; a later item with the
        same id wins)."""
        new_c = dict(citizens)
        new_n = dict(needs)
        for cid in new_c:
            _check_id("citizen_id", cid)
        for nid in new_n:
            _check_id("need_id", nid)
        c_feats = self._citizen_features(list(new_c.items())) if new_c else None
        n_feats = self._need_features(list(new_n.items())) if new_n else None
        with self._lock:
            state = self._state
            cside, nside = state.citizens, state.needs
            for cid in new_c:
                cside = cside.without(cid)
            for nid in new_n:
                nside = nside.without(nid)
            self._state = replace(
                state,
                citizens=cside.compacted(c_feats, new_c),
                needs=nside.compacted(n_feats, new_n),
            )
        log.info("bulk load: %d citizens, %d needs", self._state.citizens.n_live, self._state.needs.n_live)

    def set_feedback_overrides(self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> None:
        """Replace the consultant overrides: (citizen_id, need_id) pairs. Pinned pairs are listed first unless
        gated; hidden pairs are never listed (hidden wins over pinned). Ids need not exist yet."""
        overrides = _Overrides.build(set(pinned), set(hidden))
        with self._lock:
            self._state = replace(self._state, overrides=overrides)

    # ------------------------------------------------------------------------------------------------ reads

    def _match(
        self, citizen_id: int, need_id: int, citizen: Citizen, need: Vacancy, block: ScoreBlock,
        i: int, j: int, with_explanation: bool, about_need: NeedText | None = None,
    ) -> Match:
        components = {name: float(values[i, j]) for name, values in block.components.items()}
        return self._make_match(
            citizen_id, need_id, citizen, need, components, int(block.gates[i, j]), float(block.total[i, j]),
            with_explanation, about_need,
        )  # fmt: skip

    def _make_match(
        self, citizen_id: int, need_id: int, citizen: Citizen, need: Vacancy, components: dict[str, float],
        gates: int, total: float, with_explanation: bool, about_need: NeedText | None,
    ) -> Match:
        explanation = (
            explain(citizen, need, components, gates, self.taxonomy, self.postcodes, self.policy, about_need)
            if with_explanation
            else Explanation()
        )
        return Match(
            citizen_id=citizen_id,
            need_id=need_id,
            score=total,
            components=components,
            gates=gate_names(gates),
            explanation=explanation,
        )

    def _citizens_for(
        self,
        state: _State,
        needs: NeedFeatures,
        n_row: int,
        need_id: int,
        need: Vacancy,
        limit: int,
        offset: int,
        filters: CandidateFilter | None,
        with_explanation: bool,
    ) -> list[Match]:
        _check_page(limit, offset)
        filters = filters or CandidateFilter()
        lat, lon = float(needs.lat[n_row]), float(needs.lon[n_row])
        located = np.isfinite(lat) and np.isfinite(lon)
        if filters.radius_km is not None and not located:
            return []  # no workplace location: no citizen can be shown to be within the radius
        blocking = located and self.policy.gates.commute
        groups_codes = (
            None
            if filters.target_groups is None
            else np.array([_TARGET_GROUPS.index(g) for g in filters.target_groups], dtype=np.int8)
        )
        hidden = state.overrides.hidden_by_need.get(need_id, frozenset())
        pinned = state.overrides.pinned_by_need.get(need_id, frozenset())
        slices: list[_Scored] = []
        for feats, alive, groups in state.citizens.blocks():
            if blocking and groups is not None:
                within = groups.mask_within(lat, lon, filters.radius_km, unlocated=filters.radius_km is None)
                rows = np.flatnonzero(np.logical_and(within, alive, out=within))
            else:
                rows = np.flatnonzero(alive)
            if filters.radius_km is not None:
                rows = rows_within_radius(feats.lat, feats.lon, rows, lat, lon, filters.radius_km)
            if groups_codes is not None:
                rows = rows[np.isin(feats.target_group[rows], groups_codes)]
            for start in range(0, len(rows), self._max_pairs):
                chunk = rows[start : start + self._max_pairs]
                block = self._scorer.score_block(feats, chunk, needs, np.array([n_row]))
                slices.append(_Scored(feats.ids[chunk], block, axis=0))
        page = self._select(slices, hidden, pinned, filters.min_score, limit, offset)
        about = need_text(need, self.taxonomy, self.postcodes) if with_explanation and page else None
        return [
            self._make_match(cid, need_id, state.citizens.object(cid), need, *values, with_explanation, about)
            for (_, _, cid), values in zip(page, _page_values(page), strict=True)
        ]

    @staticmethod
    def _select(
        slices: list[_Scored],
        hidden: frozenset[int],
        pinned: frozenset[int],
        min_score: float,
        limit: int,
        offset: int,
    ) -> list[tuple[_Scored, int, int]]:
        """The page of allowed pairs of a one-against-many query, best first: (slice, position in the slice, id)."""
        if not slices:
            return []
        if len(slices) == 1:  # the common case (no recent writes in the delta block): no concatenation
            only = slices[0]
            ids = only.ids.astype(np.int64, copy=False)
            total, gates = only.column(only.block.total), only.column(only.block.gates)
        else:
            ids = np.concatenate([s.ids for s in slices]).astype(np.int64)
            total = np.concatenate([s.column(s.block.total) for s in slices])
            gates = np.concatenate([s.column(s.block.gates) for s in slices])
        allowed = (gates == 0) & (total >= np.float32(min_score))
        if hidden:
            allowed &= ~np.isin(ids, np.fromiter(hidden, dtype=np.int64))
        keep = np.flatnonzero(allowed)
        pin = np.isin(ids[keep], np.fromiter(pinned, dtype=np.int64)) if pinned else None
        top = keep[_top_order(total[keep], ids[keep], pin, offset + limit)][offset:]
        if len(slices) == 1:
            return [(only, t, i) for t, i in zip(top.tolist(), ids[top].tolist(), strict=True)]
        starts = np.cumsum([0] + [len(s.ids) for s in slices])
        part = np.searchsorted(starts, top, side="right") - 1
        return [
            (slices[k], t - int(starts[k]), i)
            for k, t, i in zip(part.tolist(), top.tolist(), ids[top].tolist(), strict=True)
        ]

    def candidates(
        self,
        need_id: int,
        limit: int = 20,
        offset: int = 0,
        filters: CandidateFilter | None = None,
        explain: bool = True,
    ) -> list[Match]:
        """Ranked citizens for a stored need. KeyError when the need is unknown."""
        state = self._state
        needs, n_row, need = state.needs.locate(need_id)
        return self._citizens_for(state, needs, n_row, need_id, need, limit, offset, filters, explain)

    def search(
        self,
        need: Vacancy,
        limit: int = 20,
        offset: int = 0,
        filters: CandidateFilter | None = None,
        explain: bool = True,
    ) -> list[Match]:
        """Ranked citizens for an ad hoc need that is not stored; matches carry ``need_id`` -1."""
        state = self._state
        needs = self._need_features([(AD_HOC_NEED_ID, need)])
        return self._citizens_for(state, needs, 0, AD_HOC_NEED_ID, need, limit, offset, filters, explain)

    def matches_for_citizen(
        self,
        citizen_id: int,
        limit: int = 20,
        offset: int = 0,
        filters: NeedFilter | None = None,
        explain: bool = True,
    ) -> list[Match]:
        """Ranked needs (vacancies and slots) for a stored citizen. KeyError when the citizen is unknown."""
        _check_page(limit, offset)
        filters = filters or NeedFilter()
        state = self._state
        citizens, c_row, citizen = state.citizens.locate(citizen_id)
        lat, lon = float(citizens.lat[c_row]), float(citizens.lon[c_row])
        located = np.isfinite(lat) and np.isfinite(lon)
        if filters.radius_km is not None and not located:
            return []  # no home location: no workplace can be shown to be within the radius
        reach = float(citizens.max_commute_km[c_row]) if self.policy.gates.commute else None
        if filters.radius_km is not None:
            reach = filters.radius_km if reach is None else min(reach, filters.radius_km)
        kind_codes = (
            None if filters.kinds is None else np.array([_NEED_KINDS.index(k) for k in filters.kinds], dtype=np.int8)
        )
        slices: list[_Scored] = []
        for feats, alive, groups in state.needs.blocks():
            if located and reach is not None and groups is not None:
                within = groups.mask_within(lat, lon, reach, unlocated=filters.radius_km is None)
                rows = np.flatnonzero(np.logical_and(within, alive, out=within))
            else:
                rows = np.flatnonzero(alive)
            if filters.radius_km is not None:
                rows = rows_within_radius(feats.lat, feats.lon, rows, lat, lon, filters.radius_km)
            if kind_codes is not None:
                rows = rows[np.isin(feats.kind[rows], kind_codes)]
            for start in range(0, len(rows), self._max_pairs):
                chunk = rows[start : start + self._max_pairs]
                block = self._scorer.score_block(citizens, np.array([c_row]), feats, chunk)
                slices.append(_Scored(feats.ids[chunk], block, axis=1))
        hidden = state.overrides.hidden_by_citizen.get(citizen_id, frozenset())
        pinned = state.overrides.pinned_by_citizen.get(citizen_id, frozenset())
        page = self._select(slices, hidden, pinned, filters.min_score, limit, offset)
        return [
            self._make_match(citizen_id, nid, citizen, state.needs.object(nid), *values, explain, None)
            for (_, _, nid), values in zip(page, _page_values(page), strict=True)
        ]

    def explain_pair(self, citizen_id: int, need_id: int) -> Match:
        """The full match for one pair, gated or not, with its explanation. KeyError when either is unknown."""
        state = self._state
        citizens, c_row, citizen = state.citizens.locate(citizen_id)
        needs, n_row, need = state.needs.locate(need_id)
        block = self._scorer.score_block(citizens, np.array([c_row]), needs, np.array([n_row]))
        return self._match(citizen_id, need_id, citizen, need, block, 0, 0, True)

    def score_all(self, k: int) -> TopK:
        """Top ``k`` both ways over everything stored, in blocks under the memory budget; pairs beyond any
        commute are skipped by geographic blocking when the commute gate is on. Overrides apply."""
        with self._lock:
            state = self._state
            cside, nside = state.citizens.compacted(), state.needs.compacted()
            self._state = state = replace(state, citizens=cside, needs=nside)
        if cside.main is None or nside.main is None:
            empty_ids = np.zeros(0, dtype=np.int64)
            c_ids = empty_ids if cside.main is None else cside.main.ids.astype(np.int64)
            n_ids = empty_ids if nside.main is None else nside.main.ids.astype(np.int64)
            return TopK(
                k=k,
                need_ids=n_ids,
                need_citizen_ids=np.full((len(n_ids), k), -1, dtype=np.int64),
                need_scores=np.zeros((len(n_ids), k), dtype=np.float32),
                need_overqualification=np.zeros((len(n_ids), k), dtype=np.float32),
                citizen_ids=c_ids,
                citizen_need_ids=np.full((len(c_ids), k), -1, dtype=np.int64),
                citizen_scores=np.zeros((len(c_ids), k), dtype=np.float32),
                citizen_overqualification=np.zeros((len(c_ids), k), dtype=np.float32),
            )

        def rows_of(pairs: frozenset[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
            known = [(cside.main_row[c], nside.main_row[n]) for c, n in pairs
                     if c in cside.main_row and n in nside.main_row]
            arr = np.array(known, dtype=np.int64).reshape(-1, 2)
            return arr[:, 0], arr[:, 1]

        return blocked_topk(
            self._scorer,
            cside.main,
            np.arange(cside.main.n),
            nside.main,
            np.arange(nside.main.n),
            k,
            self.memory_budget_mb,
            geo_blocking=self.policy.gates.commute,
            pinned=rows_of(state.overrides.pinned),
            hidden=rows_of(state.overrides.hidden),
        )
