"""Feedback on a citizen–need pair: outcomes (contacted … hired, rejected) and overrides (pinned, hidden)."""

from __future__ import annotations

from fastapi import APIRouter

from matcher.api._bodies import reject_nul
from matcher.api.deps import AuditDep, ConsultantKey, IndexDep, SessionDep
from matcher.api.routes._common import AUTH_ERRORS, NOT_FOUND, TOO_LARGE, CitizenId, VacancyId
from matcher.api.schemas import FeedbackCreate, FeedbackPublic
from matcher.ranking import SNAPSHOT_KINDS
from matcher.storage import OVERRIDE_KINDS, AuditEntry, FeedbackRepository, committed_changes

router = APIRouter(prefix="/v1/matches", tags=["matching"], responses={**AUTH_ERRORS, **NOT_FOUND, **TOO_LARGE})


@router.post("/{citizen_id}/{vacancy_id}/feedback", status_code=201)
def add_feedback(
    citizen_id: CitizenId,
    vacancy_id: VacancyId,
    body: FeedbackCreate,
    key: ConsultantKey,
    audit: AuditDep,
    session: SessionDep,
    index: IndexDep,
) -> FeedbackPublic:
    """Record an outcome or an override. `pinned` keeps the pair at the top of the need's list, `hidden` removes
    it; the latest pin/hide of a pair wins. Overrides apply to the live index at once. With an outcome
    (contacted, interviewed, hired, rejected) the pair's current scores are stored too: the re-ranker learns
    from them (docs/reranker.md)."""
    reject_nul(body.model_dump(mode="json"))
    repo = FeedbackRepository(session)
    with index.write_mutex:
        snapshot = index.snapshot(citizen_id, vacancy_id) if body.kind.value in SNAPSHOT_KINDS else None
        row = repo.add(citizen_id, vacancy_id, body.kind, body.reason, key.id, snapshot=snapshot)
        entry = AuditEntry("feedback.create", "citizen", citizen_id, {"vacancy_id": vacancy_id, "kind": body.kind})
        audit.record(session, "matching", [entry])
        session.commit()
        if body.kind.value in OVERRIDE_KINDS:
            pinned, hidden = repo.overrides()
            session.commit()
            index.set_overrides(pinned, hidden, committed_changes(session))
    return FeedbackPublic.model_validate(row)
