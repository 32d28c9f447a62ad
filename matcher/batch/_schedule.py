"""The service's own nightly run (``MATCHER_RERANK_AT=02:00``): a daemon thread that sleeps until the next
HH:MM (local time) and runs the job. One at a time: the run row's ``running`` status is the guard, so a
scheduled run that finds a manual one in progress (or another service instance's) just logs and waits for the
next night. cron or a systemd timer calling ``matcher rerank`` is the alternative (docs/batch.md)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def next_run_at(hhmm: str, now: dt.datetime) -> dt.datetime:
    """The next moment at ``hhmm`` strictly after ``now`` (same tz as ``now``)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + dt.timedelta(days=1)


class NightlyScheduler:
    """Calls ``job()`` every day at ``hhmm`` until :meth:`stop`. Errors are logged, never kill the thread."""

    def __init__(self, hhmm: str, job: Callable[[], object], clock: Callable[[], dt.datetime] | None = None) -> None:
        self.hhmm = hhmm
        self.job = job
        self.clock = clock or (lambda: dt.datetime.now().astimezone())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("scheduler already started")
        self._thread = threading.Thread(target=self._loop, name="matcher-rerank", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            wait = (next_run_at(self.hhmm, now) - now).total_seconds()
            log.info("nightly ranking run scheduled in %.0f s", wait)
            if self._stop.wait(wait):
                return
            try:
                self.job()
            except Exception:
                log.exception("scheduled ranking run failed")
