"""The live index: one match engine in memory, kept in step with the database.

The engine itself lets reads run concurrently with writes (it swaps immutable snapshots). What it cannot know is
the order of database commits: writers hold ``write_mutex`` across "commit to the database, then update the
index", so two writes to the same citizen reach the index in the order they reached the database. A write that
fails before its commit never touches the index.

Next to the engine it keeps the few facts the API needs per result without a database round trip: a citizen's
external_ref and consent, a need's employer, title and kind.

The index also knows how far it follows the change feed of the database (``applied``: every change with a seq
up to it is reflected; see matcher/api/_follow.py). A write made by this process passes the seqs it recorded
(``seqs=``), so the follower does not reload what the writer has already put here.

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
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matcher.api._services import EngineLike
from matcher.domain import Citizen, Explanation, Match, Vacancy
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


CACHE_MATCHES = 20_000
"""The list cache holds at most this many matches in all (about 1,000 lists of 20). Why a bound in matches: each
cached match is a dozen small objects that every full garbage collection walks; measured under a stream of
distinct filters, 4,096 cached lists made those collections take up to 300 ms, and they were the p99. Any write
empties the cache, so between writes this still holds far more lists than consultants reopen."""


_Packed = tuple[int, int, float, tuple[tuple[str, float], ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _pack(m: Match) -> _Packed:
    return (m.citizen_id, m.need_id, m.score, tuple(m.components.items()), tuple(m.gates),
            tuple(m.explanation.da), tuple(m.explanation.en))  # fmt: skip


def _unpack(t: _Packed) -> Match:
    cid, nid, score, components, gates, da, en = t
    return Match(
        citizen_id=cid, need_id=nid, score=score, components=dict(components), gates=list(gates),
        explanation=Explanation(da=list(da), en=list(en)),
    )  # fmt: skip


class RankedList:
    """A cached ranked list, and the JSON body a consultant gets for it once one has been rendered.

    The matches are kept packed in tuples of numbers and strings, which the garbage collector stops tracking:
    as Match models, each cached match was a dozen objects that every full collection walked, and under a stream
    of distinct searches those collections took up to 300 ms (the p99). ``matches`` rebuilds the models (the
    employer view and the first rendering need them; a cached consultant read needs only ``citizen_ids`` and
    the body).

    The body is a pure function of the list and the index's facts, both fixed until the next write, and a write
    drops every entry from the cache: a body set on an entry that was dropped meanwhile is never served.
    """

    __slots__ = ("_packed", "body", "citizen_ids")

    def __init__(self, matches: list[Match]) -> None:
        self._packed = tuple(_pack(m) for m in matches)
        self.citizen_ids: tuple[int, ...] = tuple(m.citizen_id for m in matches)
        self.body: bytes | None = None

    @property
    def matches(self) -> list[Match]:
        return [_unpack(t) for t in self._packed]

    @property
    def size(self) -> int:
        """How many matches the list holds (not ``__len__``: an empty list must not make the entry falsy)."""
        return len(self._packed)


def filter_key(filters: Any) -> Hashable:
    """A hashable key of a CandidateFilter / NeedFilter (their set fields are not hashable)."""
    if filters is None:
        return None
    return tuple(
        (name, frozenset(value) if isinstance(value, set | frozenset) else value)
        for name, value in sorted(vars(filters).items())
    )


class LiveIndex:
    def __init__(self, engine: EngineLike, cache_matches: int = CACHE_MATCHES) -> None:
        self.engine = engine
        self.write_mutex = threading.RLock()
        self.cache_matches = cache_matches
        self._cache: OrderedDict[Hashable, RankedList] = OrderedDict()
        self._cache_size = 0  # matches held by the cached lists
        # One ranking at a time. A ranking is hundreds of small numpy calls, each releasing and retaking the GIL;
        # with several in flight every release hands the GIL to another ranking thread, and getting it back waits
        # out the switch interval. Queued on this lock instead, measured with wrk on 2 cores: ad hoc searches
        # 257-278/s -> 316-319/s, rankings of stored needs 277-296/s -> 353-371/s, and a lower p99.
        self._ranking = threading.Lock()
        self._cache_lock = threading.Lock()
        self._version = 0
        self._citizens: dict[int, CitizenFacts] = {}
        self._needs: dict[int, NeedFacts] = {}
        # employer ids known to be stored: employers are never deleted, so once seen an id stays valid
        self._employers: set[int] = set()
        # Position in the change feed. ``applied``: every change with a seq up to it is reflected here.
        # ``_local``: seqs above it that this process's own writes have applied already.
        self.applied = 0
        self._local: set[int] = set()

    # ----------------------------------------------------------------------------------------- writes

    def load(
        self,
        citizens: Iterable[tuple[int, Citizen]],
        needs: Iterable[tuple[int, Vacancy]],
        pinned: set[tuple[int, int]],
        hidden: set[tuple[int, int]],
        applied: int = 0,
        engine: EngineLike | None = None,
    ) -> None:
        """Fill an empty engine from stored data: at startup, or ``engine`` (a new, empty one) to replace the
        current one when this index fell too far behind the change feed. ``applied``: the feed's newest seq, read
        before the data was."""
        citizen_list = list(citizens)
        need_list = list(needs)
        target = engine if engine is not None else self.engine
        target.bulk_load(citizen_list, need_list)
        target.set_feedback_overrides(pinned, hidden)
        self.engine = target
        self._citizens = {cid: _citizen_facts(c) for cid, c in citizen_list}
        self._needs = {nid: _need_facts(v) for nid, v in need_list}
        self._employers = {v.employer_id for _, v in need_list}
        self._local.clear()
        self.applied = applied
        self._invalidate()
        _settle()

    def put_citizens(self, items: Sequence[tuple[int, Citizen]], seqs: Collection[int] = ()) -> None:
        """Add or replace citizens; many at once go through the engine's bulk path (one feature build).
        ``seqs``: the change-feed rows of the write that stored them (see the module docstring)."""
        if len(items) == 1:
            self.engine.upsert_citizen(*items[0])
        elif items:
            self.engine.bulk_load(items, [])
            _settle()
        self._citizens.update((cid, _citizen_facts(c)) for cid, c in items)
        self._updated(seqs)

    def drop_citizen(self, citizen_id: int, seqs: Collection[int] = ()) -> None:
        self._citizens.pop(citizen_id, None)
        with contextlib.suppress(KeyError):  # already absent: the goal of a removal is met
            self.engine.remove_citizen(citizen_id)
        self._updated(seqs)

    def put_needs(self, items: Sequence[tuple[int, Vacancy]], seqs: Collection[int] = ()) -> None:
        if len(items) == 1:
            self.engine.upsert_need(*items[0])
        elif items:
            self.engine.bulk_load([], items)
            _settle()
        self._needs.update((nid, _need_facts(v)) for nid, v in items)
        self._employers.update(v.employer_id for _, v in items)
        self._updated(seqs)

    def drop_need(self, need_id: int, seqs: Collection[int] = ()) -> None:
        self._needs.pop(need_id, None)
        with contextlib.suppress(KeyError):
            self.engine.remove_need(need_id)
        self._updated(seqs)

    def set_overrides(
        self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]], seqs: Collection[int] = ()
    ) -> None:
        self.engine.set_feedback_overrides(pinned, hidden)
        self._updated(seqs)

    # ----------------------------------------------------------------------------------- change feed position

    def _updated(self, seqs: Collection[int]) -> None:
        self._invalidate()
        if seqs:
            self._local.update(s for s in seqs if s > self.applied)
            self._advance(self.applied)

    @property
    def generation(self) -> int:
        """Counts the updates of the index (the cache version, which every update bumps): a follower that read
        the database without holding ``write_mutex`` compares it to tell whether a write slipped in before it
        applied what it read."""
        return self._version

    def is_local(self, seq: int) -> bool:
        """True when this process's own write already applied change ``seq``."""
        return seq in self._local

    def advance(self, upto: int) -> None:
        """Record that every change with a seq up to ``upto`` is reflected (call under ``write_mutex``)."""
        self._advance(max(self.applied, upto))

    def _advance(self, upto: int) -> None:
        # own changes right after the position need no reload: move past them
        while upto + 1 in self._local:
            upto += 1
        self.applied = upto
        self._local = {s for s in self._local if s > upto}

    # ----------------------------------------------------------------------------------------- reads

    def citizen(self, citizen_id: int) -> CitizenFacts | None:
        return self._citizens.get(citizen_id)

    def need(self, need_id: int) -> NeedFacts | None:
        return self._needs.get(need_id)

    def employer_known(self, employer_id: int) -> bool:
        """True when ``employer_id`` is known to be stored (False: not known here, ask the database). Lets an ad
        hoc search skip a database transaction per request."""
        return employer_id in self._employers

    def note_employer(self, employer_id: int) -> None:
        """Record that ``employer_id`` is stored (committed). Employers are never deleted."""
        self._employers.add(employer_id)

    def _invalidate(self) -> None:
        """Called after every engine update: drops cached lists, and the version bump stops a list computed
        during the update from being cached."""
        with self._cache_lock:
            self._version += 1
            self._cache.clear()
            self._cache_size = 0

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
        with self._ranking:
            hit, version = self._lookup(full_key)  # another request may have ranked it while this one queued
            if hit is not None:
                return hit
            value = RankedList(compute())
        with self._cache_lock:
            if version == self._version and full_key not in self._cache:  # no write meanwhile: value is current
                self._cache[full_key] = value
                self._cache_size += max(1, value.size)
                while self._cache_size > self.cache_matches and len(self._cache) > 1:
                    _, dropped = self._cache.popitem(last=False)  # least recently used first
                    self._cache_size -= max(1, dropped.size)
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
        with self._ranking:
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
