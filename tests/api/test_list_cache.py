"""The live index's list cache: bounded by the matches it holds, least recently used dropped first, emptied by a
write."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from matcher.api._index import LiveIndex
from matcher.domain import Explanation, Match


class CountingEngine:
    """Answers ``candidates`` with ``limit`` made-up matches and counts how often it ranked."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls = 0
        self.seconds = seconds
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def candidates(self, need_id: int, limit: int, offset: int, filters: Any, explain: bool) -> list[Match]:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return [
            Match(citizen_id=i, need_id=need_id, score=0.5, components={}, gates=[], explanation=Explanation())
            for i in range(limit)
        ]

    def set_feedback_overrides(self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> None:
        pass


def test_cache_holds_at_most_its_budget_of_matches_dropping_the_least_recently_used() -> None:
    engine = CountingEngine()
    index = LiveIndex(engine, cache_matches=50)  # type: ignore[arg-type]
    for need in (1, 2):  # 40 matches cached
        index.candidates_entry(need, 20, 0, None)
    index.candidates_entry(1, 20, 0, None)  # a hit: need 1 is now the most recently used
    assert engine.calls == 2
    index.candidates_entry(3, 20, 0, None)  # 60 > 50: need 2, the least recently used, is dropped
    assert engine.calls == 3
    index.candidates_entry(1, 20, 0, None)
    index.candidates_entry(3, 20, 0, None)
    assert engine.calls == 3  # both still cached
    index.candidates_entry(2, 20, 0, None)
    assert engine.calls == 4  # ranked again


def test_a_list_larger_than_the_budget_is_served_and_a_write_empties_the_cache() -> None:
    engine = CountingEngine()
    index = LiveIndex(engine, cache_matches=10)  # type: ignore[arg-type]
    assert len(index.candidates(1, 30, 0, None)) == 30
    index.candidates(1, 30, 0, None)
    assert engine.calls == 1  # the newest list is kept even when alone over the budget
    index.set_overrides(set(), set())
    index.candidates(1, 30, 0, None)
    assert engine.calls == 2


def test_rankings_run_one_at_a_time_and_a_list_asked_for_meanwhile_is_ranked_once() -> None:
    engine = CountingEngine(seconds=0.05)
    index = LiveIndex(engine)  # type: ignore[arg-type]
    with ThreadPoolExecutor(8) as pool:
        same = list(pool.map(lambda _: index.candidates_entry(7, 20, 0, None), range(4)))
        list(pool.map(lambda need: index.candidates_entry(need, 20, 0, None), range(100, 104)))
    assert engine.most_at_once == 1
    assert engine.calls == 1 + 4  # the four concurrent reads of need 7 share one ranking
    assert all(entry is same[0] for entry in same)
