"""The live index: one match engine in memory, kept in step with the database.

The engine itself lets reads run concurrently with writes (it swaps immutable snapshots). What it cannot know is
the order of database commits: writers hold ``write_mutex`` across "commit to the database, then update the
index", so two writes to the same citizen reach the index in the order they reached the database. A write that
fails before its commit never touches the index.

Next to the engine it keeps the few facts the API needs per result without a database round trip: a citizen's
external_ref and consent, a need's employer, title and kind.

Ranked lists of stored needs and citizens are cached (LRU). Any write — a citizen, a need, an override — clears
the whole cache, so a cached list is always the one the engine would compute now; the day is part of the key,
since availability and expiry depend on it. Consultants reopen the same lists far more often than data changes,
and the engine scores every citizen in reach per query, so this is what makes repeated reads cheap; a list is
computed at most once between two writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matcher.api._services import EngineLike
from matcher.domain import Citizen, Match, Vacancy
from matcher.ranking import make_snapshot, scorer_label


@dataclass(frozen=True)
class CitizenFacts:
    external_ref: str
    consent: bool
    target_group: str


@dataclass(frozen=True)
class NeedFacts:
    employer_id: int
    title: str
    kind: str


CACHE_ENTRIES = 4096


@dataclass
class RankedList:
    """A cached ranked list, and the JSON body a consultant gets for it once one has been rendered.

    The body is a pure function of the list and the index's facts, both fixed until the next write, and a write
    drops every entry from the cache: a body set on an entry that was dropped meanwhile is never served.
    """

    matches: list[Match]
    body: bytes | None = None


def filter_key(filters: Any) -> Hashable:
    """A hashable key of a CandidateFilter / NeedFilter (their set fields are not hashable)."""
    if filters is None:
        return None
    return tuple(
        (name, frozenset(value) if isinstance(value, set | frozenset) else value)
        for name, value in sorted(vars(filters).items())
    )


class LiveIndex:
    def __init__(self, engine: EngineLike, cache_entries: int = CACHE_ENTRIES) -> None:
        self.engine = engine
        self.write_mutex = threading.RLock()
        self.cache_entries = cache_entries
        self._cache: OrderedDict[Hashable, RankedList] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._version = 0
        self._citizens: dict[int, CitizenFacts] = {}
        self._needs: dict[int, NeedFacts] = {}

    # ----------------------------------------------------------------------------------------- writes

    def load(
        self,
        citizens: Iterable[tuple[int, Citizen]],
        needs: Iterable[tuple[int, Vacancy]],
        pinned: set[tuple[int, int]],
        hidden: set[tuple[int, int]],
    ) -> None:
        """Fill an empty engine from stored data (at startup)."""
        citizen_list = list(citizens)
        need_list = list(needs)
        self.engine.bulk_load(citizen_list, need_list)
        self.engine.set_feedback_overrides(pinned, hidden)
        self._citizens = {cid: _citizen_facts(c) for cid, c in citizen_list}
        self._needs = {nid: _need_facts(v) for nid, v in need_list}
        _settle()

    def put_citizens(self, items: Sequence[tuple[int, Citizen]]) -> None:
        """Add or replace citizens; many at once go through the engine's bulk path (one feature build)."""
        if len(items) == 1:
            self.engine.upsert_citizen(*items[0])
        elif items:
            self.engine.bulk_load(items, [])
            _settle()
        self._citizens.update((cid, _citizen_facts(c)) for cid, c in items)
        self._invalidate()

    def drop_citizen(self, citizen_id: int) -> None:
        self._citizens.pop(citizen_id, None)
        with contextlib.suppress(KeyError):  # already absent: the goal of a removal is met
            self.engine.remove_citizen(citizen_id)
        self._invalidate()

    def put_needs(self, items: Sequence[tuple[int, Vacancy]]) -> None:
        if len(items) == 1:
            self.engine.upsert_need(*items[0])
        elif items:
            self.engine.bulk_load([], items)
            _settle()
        self._needs.update((nid, _need_facts(v)) for nid, v in items)
        self._invalidate()

    def drop_need(self, need_id: int) -> None:
        self._needs.pop(need_id, None)
        with contextlib.suppress(KeyError):
            self.engine.remove_need(need_id)
        self._invalidate()

    def set_overrides(self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> None:
        self.engine.set_feedback_overrides(pinned, hidden)
        self._invalidate()

    # ----------------------------------------------------------------------------------------- reads

    def citizen(self, citizen_id: int) -> CitizenFacts | None:
        return self._citizens.get(citizen_id)

    def need(self, need_id: int) -> NeedFacts | None:
        return self._needs.get(need_id)

    def _invalidate(self) -> None:
        """Called after every engine update: drops cached lists, and the version bump stops a list computed
        during the update from being cached."""
        with self._cache_lock:
            self._version += 1
            self._cache.clear()

    def _lookup(self, full_key: Hashable) -> tuple[RankedList | None, int]:
        """The cached entry (marked recently used) and the cache version it was read at, in one locked step."""
        with self._cache_lock:
            hit = self._cache.get(full_key)
            if hit is not None:
                self._cache.move_to_end(full_key)
            return hit, self._version

    def _peek(self, key: Hashable) -> RankedList | None:
        return self._lookup((dt.date.today(), key))[0]

    def _cached(self, key: Hashable, compute: Callable[[], list[Match]]) -> RankedList:
        full_key = (dt.date.today(), key)
        hit, version = self._lookup(full_key)
        if hit is not None:
            return hit
        value = RankedList(compute())
        with self._cache_lock:
            if version == self._version:  # no write happened meanwhile: the value is current
                self._cache[full_key] = value
                if len(self._cache) > self.cache_entries:
                    self._cache.popitem(last=False)
        return value

    @staticmethod
    def _candidates_key(need_id: int, limit: int, offset: int, filters: Any) -> Hashable:
        return ("candidates", need_id, limit, offset, filter_key(filters))

    @staticmethod
    def _matches_key(citizen_id: int, limit: int, offset: int, filters: Any) -> Hashable:
        return ("matches", citizen_id, limit, offset, filter_key(filters))

    def cached_candidates(self, need_id: int, limit: int, offset: int, filters: Any) -> RankedList | None:
        """The entry :meth:`candidates_entry` would return if it is cached, else None. Never ranks, so the event
        loop may call it."""
        return self._peek(self._candidates_key(need_id, limit, offset, filters))

    def candidates_entry(self, need_id: int, limit: int, offset: int, filters: Any) -> RankedList:
        return self._cached(
            self._candidates_key(need_id, limit, offset, filters),
            lambda: self.engine.candidates(need_id, limit=limit, offset=offset, filters=filters, explain=True),
        )

    def candidates(self, need_id: int, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.candidates_entry(need_id, limit, offset, filters).matches

    def cached_matches(self, citizen_id: int, limit: int, offset: int, filters: Any) -> RankedList | None:
        """Like :meth:`cached_candidates`, for :meth:`matches_entry`."""
        return self._peek(self._matches_key(citizen_id, limit, offset, filters))

    def matches_entry(self, citizen_id: int, limit: int, offset: int, filters: Any) -> RankedList:
        return self._cached(
            self._matches_key(citizen_id, limit, offset, filters),
            lambda: self.engine.matches_for_citizen(
                citizen_id, limit=limit, offset=offset, filters=filters, explain=True
            ),
        )

    def matches_for_citizen(self, citizen_id: int, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.matches_entry(citizen_id, limit, offset, filters).matches

    def search(self, vacancy: Vacancy, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.engine.search(vacancy, limit=limit, offset=offset, filters=filters, explain=True)

    def snapshot(self, citizen_id: int, need_id: int) -> dict[str, Any] | None:
        """What the engine scores for the pair now, as a re-ranker training row (None when the index does not
        hold both). Call it under ``write_mutex`` so that it describes the data the feedback is about."""
        citizen, need = self._citizens.get(citizen_id), self._needs.get(need_id)
        if citizen is None or need is None:
            return None
        try:
            match = self.engine.explain_pair(citizen_id, need_id)
        except KeyError:
            return None
        label = scorer_label(self.engine.scorer)
        return make_snapshot(match.components, match.score, match.gates, need.kind, citizen.target_group, label)

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self._citizens), len(self._needs)


def _settle() -> None:
    """Move everything alive now out of the garbage collector's sight (``gc.freeze``), after a load or bulk update.

    The engine and index hold millions of long-lived objects; a full collection walked all of them every 20-30 s
    under load and stalled every request for ~400 ms (measured with benchmarks/api_load.py; it was the whole
    p99). Freezing is O(1). Objects frozen here and dropped later are still freed by reference counting; only
    reference cycles among them would stay, and the index keeps none.
    """
    gc.collect(1)  # young garbage first, so little of it is frozen
    gc.freeze()


def _citizen_facts(citizen: Citizen) -> CitizenFacts:
    return CitizenFacts(
        external_ref=citizen.external_ref,
        consent=citizen.consent_share_with_employers,
        target_group=citizen.target_group.value,
    )


def _need_facts(vacancy: Vacancy) -> NeedFacts:
    return NeedFacts(employer_id=vacancy.employer_id, title=vacancy.title, kind=vacancy.kind.value)
