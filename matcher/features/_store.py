"""A feature table kept in step with single writes (the API's in-memory index)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Generic, TypeVar

import numpy as np

from matcher.features._base import FeatureTable

T = TypeVar("T", bound=FeatureTable)


class FeatureStore(Generic[T]):
    """Holds one feature table and absorbs upserts and removals cheaply.

    Why: rebuilding a 300k-row table (one ``vstack`` of every CSR) after each API write costs tens of
    milliseconds; a write here only records the new one-row table or a tombstone, and the big table is
    rebuilt once, on the next read (so a burst of writes costs one rebuild). Reads between writes are free.
    Thread-safe: the API serves reads and writes from several threads.
    """

    def __init__(self, table: T, bulk_rows: int = 1000) -> None:
        self.bulk_rows = bulk_rows
        self._table = table
        self._pending: dict[int, T] = {}
        self._removed: set[int] = set()
        self._lock = threading.Lock()

    def upsert(self, part: T) -> None:
        """Add or replace the rows of ``part`` (built with the same taxonomy as the stored table)."""
        with self._lock:
            if part.n >= self.bulk_rows:
                self._table = type(self._table).concat([self._compacted().without(part.ids.tolist()), part])
                return
            for row, id_ in enumerate(part.ids.tolist()):
                self._pending.pop(id_, None)  # re-insert so the newest write ends up last
                self._pending[id_] = part.take(np.array([row]))
                self._removed.discard(id_)

    def remove(self, ids: Iterable[int]) -> None:
        """Drop rows by id; ids that are not stored are ignored (a GDPR erase may be repeated)."""
        with self._lock:
            for id_ in ids:
                self._pending.pop(int(id_), None)
                self._removed.add(int(id_))

    @property
    def table(self) -> T:
        """The current table; rebuilt here only when writes happened since the last read."""
        with self._lock:
            return self._compacted()

    def _compacted(self) -> T:
        if not self._pending and not self._removed:
            return self._table
        gone = self._removed | set(self._pending)
        base = self._table.without(gone) if gone else self._table
        self._table = type(base).concat([base, *self._pending.values()])
        self._pending.clear()
        self._removed.clear()
        return self._table

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, int):
            return False
        with self._lock:
            if id_ in self._pending:
                return True
            if id_ in self._removed:
                return False
            try:
                self._table.row_of(id_)
            except KeyError:
                return False
            return True
