"""The nightly ranking run over HTTP (admin keys only): start one, follow its progress, read its placement plan.

A started run executes in a background thread of the service (the same :class:`~matcher.batch.RerankJob` as
``matcher rerank``); the ``running`` row in the database keeps it to one at a time, across processes. The run the
service stands behind is the latest *completed* one (``GET /v1/rankings/runs/latest``); a failed or partial run
never replaces it. With ``MATCHER_RERANK_AT=HH:MM`` the service starts the run itself each night
(:func:`nightly_scheduler`, wired into the app's lifespan).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from matcher.api.deps import AppState, IndexDep, KeyInfo, SessionDep, StateDep, require
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, Limit, Offset
from matcher.batch import COMPLETED, NightlyScheduler, RerankJob, RerankOptions, RunInProgressError, latest_completed
from matcher.domain import Explanation
from matcher.storage import MAX_ID, RankingResultRow, RankingRunRow

log = logging.getLogger(__name__)

router = APIRouter(tags=["rankings"], responses={**AUTH_ERRORS})

AdminKey = Annotated[KeyInfo, Depends(require("admin"))]
RunId = Annotated[int, Path(ge=1, le=MAX_ID)]


class RunStart(BaseModel):
    fresh: bool = Field(False, description="start over instead of resuming an unfinished run or reusing an "
                        "identical completed one")


class RunStarted(BaseModel):
    run_id: int
    how: str = Field(description="new, resumed, or reused (an identical completed run exists)")


class RunPublic(BaseModel):
    id: int
    status: str = Field(description="running, completed or failed")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    as_of: dt.date | None = Field(description="the scoring date")
    n_citizens: int
    n_needs: int
    n_results: int
    top_k: int
    blocks_done: int
    blocks_total: int
    progress: float = Field(description="blocks done / blocks total (1 when there is nothing to do)")
    config_hash: str
    data_hash: str
    model_version: str
    error: str | None
    report: dict[str, Any] | None = Field(description="placement plan vs greedy baseline, data problems, timings")


class Assignment(BaseModel):
    rank: int = Field(description="position in the plan, by plan value")
    citizen_id: int
    need_id: int
    score: float = Field(description="the pair's score in the run")
    plan_value: float = Field(description="score × target-group priority − over-qualification cost")
    overqualification: float
    explanation: Explanation | None = Field(
        description="why, from the current profiles (None when the citizen or need is gone since the run)"
    )


class PlanPublic(BaseModel):
    run_id: int
    total: int
    limit: int
    offset: int
    assignments: list[Assignment]


def run_public(run: RankingRunRow) -> RunPublic:
    total = run.blocks_total
    return RunPublic(
        id=run.id,
        status=run.status,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        as_of=run.as_of,
        n_citizens=run.n_citizens,
        n_needs=run.n_needs,
        n_results=run.n_results,
        top_k=run.top_k,
        blocks_done=run.blocks_done,
        blocks_total=total,
        progress=1.0 if total == 0 else round(run.blocks_done / total, 4),
        config_hash=run.config_hash,
        data_hash=run.data_hash,
        model_version=run.model_version,
        error=run.error,
        report=run.report,
    )


def make_job(state: AppState, fresh: bool = False) -> RerankJob:
    from matcher.taxonomy import get_taxonomy, load_postcodes

    settings = state.settings
    return RerankJob(
        settings, state.sessions, get_taxonomy(), load_postcodes(settings.data_dir), RerankOptions(fresh=fresh)
    )


def _run_in_background(job: RerankJob) -> None:
    def work() -> None:
        try:
            job.run()
        except Exception:  # marked failed in the database by the job; the thread only logs
            log.exception("ranking run failed")

    threading.Thread(target=work, name="matcher-rerank-api", daemon=True).start()


def nightly_scheduler(state: AppState) -> NightlyScheduler | None:
    """The service's own nightly run when ``MATCHER_RERANK_AT`` is set (started here; the caller stops it)."""
    at = state.settings.rerank_at
    if at is None:
        return None

    def nightly() -> None:
        try:
            make_job(state).run()
        except RunInProgressError as exc:
            log.warning("nightly ranking run skipped: %s", exc)

    scheduler = NightlyScheduler(at, nightly)
    scheduler.start()
    return scheduler


@router.post("/v1/rankings/runs", status_code=status.HTTP_202_ACCEPTED, responses={409: {"description": "busy"}})
def start_run(key: AdminKey, state: StateDep, body: RunStart | None = None) -> RunStarted:
    """Start the nightly run now (or resume an unfinished one). Answers at once with the run id; follow it with
    ``GET /v1/rankings/runs/{id}``."""
    job = make_job(state, fresh=body.fresh if body else False)
    try:
        run_id, how = job.prepare()
    except RunInProgressError as exc:
        raise HTTPException(409, f"run: {exc}") from None
    if how != "reused":
        _run_in_background(job)
    return RunStarted(run_id=run_id, how=how)


@router.get("/v1/rankings/runs/latest", responses=NOT_FOUND)
def latest_run(key: AdminKey, session: SessionDep) -> RunPublic:
    """The latest completed run: the one whose lists and plan stand."""
    run = latest_completed(session)
    if run is None:
        raise HTTPException(404, "run: no completed ranking run yet")
    return run_public(run)


@router.get("/v1/rankings/runs/{run_id}", responses=NOT_FOUND)
def get_run(run_id: RunId, key: AdminKey, session: SessionDep) -> RunPublic:
    """A run's status, progress (blocks done of total) and, when completed, its report."""
    run = session.get(RankingRunRow, run_id)
    if run is None:
        raise HTTPException(404, f"run_id: no ranking run {run_id}")
    return run_public(run)


@router.get("/v1/rankings/runs/{run_id}/plan", responses={**NOT_FOUND, 409: {"description": "run not completed"}})
def get_plan(
    run_id: RunId, key: AdminKey, session: SessionDep, index: IndexDep, limit: Limit = 50, offset: Offset = 0
) -> PlanPublic:
    """The run's placement plan, best value first, each assignment explained."""
    run = session.get(RankingRunRow, run_id)
    if run is None:
        raise HTTPException(404, f"run_id: no ranking run {run_id}")
    if run.status != COMPLETED:
        raise HTTPException(409, f"run_id: run {run_id} is {run.status}, it has no plan")
    where = (RankingResultRow.run_id == run_id, RankingResultRow.direction == "plan")
    total = session.scalar(select(func.count()).select_from(RankingResultRow).where(*where)) or 0
    rows = session.scalars(
        select(RankingResultRow).where(*where).order_by(RankingResultRow.rank).limit(limit).offset(offset)
    )
    explain_pair = getattr(index.engine, "explain_pair", None)
    out = []
    for row in rows:
        explanation = None
        if explain_pair is not None:
            try:
                explanation = explain_pair(row.citizen_id, row.need_id).explanation
            except KeyError:
                explanation = None
        out.append(
            Assignment(
                rank=row.rank,
                citizen_id=row.citizen_id,
                need_id=row.need_id,
                score=row.score,
                plan_value=float(row.components.get("plan_value", row.score)),
                overqualification=float(row.components.get("overqualification", 0.0)),
                explanation=explanation,
            )
        )
    return PlanPublic(run_id=run_id, total=total, limit=limit, offset=offset, assignments=out)
