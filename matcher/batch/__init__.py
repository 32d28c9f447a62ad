"""The nightly run: load → score in blocks → rank both ways → plan → write; resumable, optionally on Dask.

:class:`RerankJob` is what ``matcher rerank``, ``POST /v1/rankings/runs`` and the service's own schedule call;
``docs/batch.md`` explains the run, resumability and scheduling.
"""

from matcher.batch._run import RerankJob, RerankOptions, RunOutcome, config_hash, model_version
from matcher.batch._schedule import NightlyScheduler, next_run_at
from matcher.batch._store import COMPLETED, FAILED, RUNNING, RunInProgressError, latest_completed

__all__ = [
    "COMPLETED",
    "FAILED",
    "RUNNING",
    "NightlyScheduler",
    "RerankJob",
    "RerankOptions",
    "RunInProgressError",
    "RunOutcome",
    "config_hash",
    "latest_completed",
    "model_version",
    "next_run_at",
]
