"""Keeping this process's live index in step with writes committed by any process.

``matcher serve --workers N`` runs N processes, each with its own :class:`~matcher.api._index.LiveIndex`, and
``matcher import`` writes to the same database from outside the service. Every write the index depends on
appends to the change feed in its own transaction (matcher/storage/_changes.py). Here:

* **Before each read of the index** a request compares the feed's newest seq with the index's position (one
  cheap query on a connection kept for it, :class:`~matcher.storage.ChangeFeed`). When it is behind, the request
  waits until :meth:`IndexFollower.catch_up` has applied the changes. So a write acknowledged by any worker is
  seen by every request that starts after the acknowledgement, the same guarantee one process gave.
* **Catching up** reads the changes and the current rows of the entities they name, then applies them under the
  index's ``write_mutex``: an entity that is still stored is put (its current profile), one that is gone is
  dropped, and changed overrides are reloaded whole. Changes this process made itself are skipped (it applied
  them when it wrote). The database is read without holding ``write_mutex`` (on SQLite a transaction holds the
  write lock, and a local writer may hold that lock while it waits for the mutex); if a local write lands
  meanwhile, the read is simply repeated.
* **A background thread** does the same every second, so an idle worker drops an erased citizen within a second
  even if no request asks it, and prunes feed rows older than an hour every ten minutes. A process whose position
  is older than what was pruned, or ahead of the feed (a database restored from a backup), reloads the whole
  index from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from matcher.api._index import LiveIndex
from matcher.api._services import EngineLike
from matcher.domain import Citizen, Vacancy
from matcher.storage import (
    ChangeFeed,
    ChangeFeedRepository,
    CitizenRepository,
    FeedbackRepository,
    NeedRepository,
    entity_ids,
    transaction,
)
from matcher.storage._changes import CITIZEN, NEED, OVERRIDES

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 600.0
RETAIN = dt.timedelta(hours=1)
"""Feed rows are kept this long. Every live process catches up within a second, so only a process that was
stopped (or stuck) for longer needs the whole reload."""


class IndexFollower:
    def __init__(
        self,
        index: LiveIndex,
        sessions: sessionmaker[Session],
        feed: ChangeFeed,
        engine_factory: Callable[[], EngineLike],
        poll_seconds: float = POLL_SECONDS,
        prune_every_seconds: float = PRUNE_EVERY_SECONDS,
        retain: dt.timedelta = RETAIN,
    ) -> None:
        self.index = index
        self.sessions = sessions
        self.feed = feed
        self.engine_factory = engine_factory
        self.poll_seconds = poll_seconds
        self.prune_every_seconds = prune_every_seconds
        self.retain = retain
        self._catching = threading.Lock()  # one catch-up at a time; the others find nothing left to do
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------------------------------------- loading

    def load(self) -> None:
        """Fill the (empty) index from the database at startup."""
        with self._catching:
            self._load_all(first=True)

    def _load_all(self, first: bool = False) -> None:
        while True:
            generation = self.index.generation
            with transaction(self.sessions) as session:
                applied = ChangeFeedRepository(session).latest()  # before the data: changes after it are re-applied
                pinned, hidden = FeedbackRepository(session).overrides()
                citizens = list(CitizenRepository(session).profiles())
                needs = list(NeedRepository(session).vacancies())
            # a reload builds a new engine beside the one still serving: twice the memory until the swap
            engine = None if first else self.engine_factory()
            with self.index.write_mutex:
                if self.index.generation != generation:
                    continue  # a local write landed while we read: read again
                self.index.load(citizens, needs, pinned, hidden, applied=applied, engine=engine)
                return

    # --------------------------------------------------------------------------------------------- following

    def behind(self) -> bool:
        """Whether a change committed anywhere is not yet in the index (one query; fine on the event loop).
        A feed whose newest seq is below the index's position was reset (a restored backup, say): also behind."""
        return self.feed.latest() != self.index.applied

    def catch_up(self) -> None:
        """Apply every change committed so far (blocking; run it in a worker thread)."""
        with self._catching:
            while True:
                # position first, then the feed: a local write in between can only make ``latest`` larger
                generation = self.index.generation
                after = self.index.applied
                latest = self.feed.latest()
                if latest == after:
                    return
                with transaction(self.sessions) as session:
                    feed = ChangeFeedRepository(session)
                    if latest < after or feed.pruned_through() > after:
                        reload = True  # the feed was reset, or pruned past this index: changes are missing
                    else:
                        reload = False
                        changes = [c for c in feed.since(after, latest) if not self.index.is_local(c[0])]
                        citizen_ids = entity_ids(changes, CITIZEN)
                        need_ids = entity_ids(changes, NEED)
                        citizens = CitizenRepository(session).profiles_of(citizen_ids)
                        needs = NeedRepository(session).vacancies_of(need_ids)
                        overrides = (
                            FeedbackRepository(session).overrides()
                            if any(kind == OVERRIDES for _, kind, _ in changes)
                            else None
                        )
                if reload:
                    log.warning("index at %d cannot follow the change feed (at %d): reloading it whole", after, latest)
                    self._load_all()
                    continue
                with self.index.write_mutex:
                    if self.index.generation != generation:
                        continue  # a local write landed while we read: read again
                    self._apply(citizen_ids, citizens, need_ids, needs, overrides)
                    self.index.advance(latest)

    def _apply(
        self,
        citizen_ids: set[int],
        citizens: dict[int, Citizen],
        need_ids: set[int],
        needs: dict[int, Vacancy],
        overrides: tuple[set[tuple[int, int]], set[tuple[int, int]]] | None,
    ) -> None:
        index = self.index
        if citizens:
            index.put_citizens(sorted(citizens.items()))
        for cid in sorted(citizen_ids - citizens.keys()):
            index.drop_citizen(cid)
        if needs:
            index.put_needs(sorted(needs.items()))
        for nid in sorted(need_ids - needs.keys()):
            index.drop_need(nid)
        if overrides is not None:
            index.set_overrides(*overrides)

    # --------------------------------------------------------------------------------------------- background

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-follower", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.feed.close()

    def _run(self) -> None:
        next_prune = time.monotonic() + self.prune_every_seconds
        while not self._stop.wait(self.poll_seconds):
            try:
                if self.behind():
                    self.catch_up()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_every_seconds
                    with transaction(self.sessions) as session:
                        ChangeFeedRepository(session).prune(self.retain)
            except Exception as exc:  # a busy or vanished database: the next round (or a request) catches up
                log.warning("index follower: %s", exc)
