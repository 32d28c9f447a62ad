"""The live index: one match engine in memory, kept in step with the database.

The engine itself lets reads run concurrently with writes (it swaps immutable snapshots). What it cannot know is
the order of database commits: writers hold ``write_mutex`` across "commit to the database, then update the
index", so two writes to the same citizen reach the index in the order they reached the database. A write that
fails before its commit never touches the index.

Next to the engine it keeps the few facts the API needs per result without a database round trip: a citizen's
external_ref and consent, a need's employer, title and kind.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matcher.api._services import EngineLike
from matcher.domain import Citizen, Match, Vacancy


@dataclass(frozen=True)
class CitizenFacts:
    external_ref: str
    consent: bool


@dataclass(frozen=True)
class NeedFacts:
    employer_id: int
    title: str
    kind: str


class LiveIndex:
    def __init__(self, engine: EngineLike) -> None:
        self.engine = engine
        self.write_mutex = threading.RLock()
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

    def put_citizens(self, items: Sequence[tuple[int, Citizen]]) -> None:
        """Add or replace citizens; many at once go through the engine's bulk path (one feature build)."""
        if len(items) == 1:
            self.engine.upsert_citizen(*items[0])
        elif items:
            self.engine.bulk_load(items, [])
        self._citizens.update((cid, _citizen_facts(c)) for cid, c in items)

    def drop_citizen(self, citizen_id: int) -> None:
        self._citizens.pop(citizen_id, None)
        with contextlib.suppress(KeyError):  # already absent: the goal of a removal is met
            self.engine.remove_citizen(citizen_id)

    def put_needs(self, items: Sequence[tuple[int, Vacancy]]) -> None:
        if len(items) == 1:
            self.engine.upsert_need(*items[0])
        elif items:
            self.engine.bulk_load([], items)
        self._needs.update((nid, _need_facts(v)) for nid, v in items)

    def drop_need(self, need_id: int) -> None:
        self._needs.pop(need_id, None)
        with contextlib.suppress(KeyError):
            self.engine.remove_need(need_id)

    def set_overrides(self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> None:
        self.engine.set_feedback_overrides(pinned, hidden)

    # ----------------------------------------------------------------------------------------- reads

    def citizen(self, citizen_id: int) -> CitizenFacts | None:
        return self._citizens.get(citizen_id)

    def need(self, need_id: int) -> NeedFacts | None:
        return self._needs.get(need_id)

    def candidates(self, need_id: int, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.engine.candidates(need_id, limit=limit, offset=offset, filters=filters, explain=True)

    def search(self, vacancy: Vacancy, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.engine.search(vacancy, limit=limit, offset=offset, filters=filters, explain=True)

    def matches_for_citizen(self, citizen_id: int, limit: int, offset: int, filters: Any) -> list[Match]:
        return self.engine.matches_for_citizen(citizen_id, limit=limit, offset=offset, filters=filters, explain=True)

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self._citizens), len(self._needs)


def _citizen_facts(citizen: Citizen) -> CitizenFacts:
    return CitizenFacts(external_ref=citizen.external_ref, consent=citizen.consent_share_with_employers)


def _need_facts(vacancy: Vacancy) -> NeedFacts:
    return NeedFacts(employer_id=vacancy.employer_id, title=vacancy.title, kind=vacancy.kind.value)
