"""The service's own schedule, and running without Dask installed."""

from __future__ import annotations

import datetime as dt
import sys
import threading

import pytest

from matcher.batch import NightlyScheduler, next_run_at

CPH = dt.timezone(dt.timedelta(hours=1))


def test_next_run_is_today_or_tomorrow() -> None:
    assert next_run_at("02:00", dt.datetime(2026, 11, 22, 1, 30, tzinfo=CPH)) == dt.datetime(
        2026, 11, 22, 2, 0, tzinfo=CPH
    )
    assert next_run_at("02:00", dt.datetime(2026, 11, 22, 2, 0, tzinfo=CPH)) == dt.datetime(
        2026, 11, 23, 2, 0, tzinfo=CPH
    )


def test_scheduler_runs_the_job_at_the_time_and_survives_its_errors() -> None:
    ran = threading.Event()
    calls: list[int] = []
    # a clock one second before 02:00, then (after the wait) past it
    times = iter([dt.datetime(2026, 11, 22, 1, 59, 59, 900_000, tzinfo=CPH)])

    def clock() -> dt.datetime:
        return next(times, dt.datetime(2026, 11, 22, 2, 0, 1, tzinfo=CPH))

    def job() -> None:
        calls.append(1)
        ran.set()
        raise RuntimeError("boom")  # logged, the thread carries on

    scheduler = NightlyScheduler("02:00", job, clock=clock)
    scheduler.start()
    assert ran.wait(5)
    scheduler.stop()
    assert calls == [1]


def test_dask_missing_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from matcher.batch import _dask

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(RuntimeError, match=r"pip install 'matcher\[distributed\]'"):
        _dask._client("local", 1)
