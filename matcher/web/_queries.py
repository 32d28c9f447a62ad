"""The few reads the pages render on the server: needs to pick from and the latest nightly plan.

Neither holds personal data beyond citizen ids (needs are company data; the plan shows ids that link to the
audited citizen page), so they read the database directly instead of going through the v1 routes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher.batch import latest_completed
from matcher.storage import EmployerRow, NeedRow, RankingResultRow

NEEDS_SHOWN = 50
PLAN_SHOWN = 500


@dataclass(frozen=True)
class NeedItem:
    id: int
    title: str
    kind: str
    postcode: str | None
    positions: int
    employer_id: int
    employer: str


@dataclass(frozen=True)
class PlanItem:
    citizen_id: int
    need_id: int
    need_title: str
    kind: str
    employer: str
    score: float


@dataclass(frozen=True)
class PlanView:
    run_id: int
    finished_at: dt.datetime | None
    n_assigned: int
    items: list[PlanItem]
    report: dict[str, Any] = field(default_factory=dict)


def find_needs(session: Session, q: str = "", kind: str = "", employer_id: int | None = None) -> list[NeedItem]:
    """Needs whose title contains ``q`` (case-insensitive), newest first, at most ``NEEDS_SHOWN``."""
    query = select(NeedRow, EmployerRow.name).join(EmployerRow, EmployerRow.id == NeedRow.employer_id)
    if q.strip():
        query = query.where(func.lower(NeedRow.title).contains(q.strip().lower(), autoescape=True))
    if kind:
        query = query.where(NeedRow.kind == kind)
    if employer_id is not None:
        query = query.where(NeedRow.employer_id == employer_id)
    rows = session.execute(query.order_by(NeedRow.id.desc()).limit(NEEDS_SHOWN)).all()
    return [NeedItem(n.id, n.title, n.kind, n.postcode, n.positions, n.employer_id, name) for n, name in rows]


def latest_plan(session: Session) -> PlanView | None:
    """The placement plan of the newest completed nightly run, best-scored first; ``None`` when no run has
    completed yet."""
    run = latest_completed(session)
    if run is None:
        return None
    where = (RankingResultRow.run_id == run.id) & (RankingResultRow.direction == "plan")
    total = session.scalar(select(func.count()).select_from(RankingResultRow).where(where)) or 0
    rows = session.execute(
        select(RankingResultRow, NeedRow.title, NeedRow.kind, EmployerRow.name)
        .join(NeedRow, NeedRow.id == RankingResultRow.need_id)
        .join(EmployerRow, EmployerRow.id == NeedRow.employer_id)
        .where(where)
        .order_by(RankingResultRow.score.desc(), RankingResultRow.id)
        .limit(PLAN_SHOWN)
    ).all()
    items = [PlanItem(r.citizen_id, r.need_id, title, kind, employer, r.score) for r, title, kind, employer in rows]
    return PlanView(run.id, run.finished_at, total, items, dict(run.report or {}))
