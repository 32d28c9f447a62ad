"""Which scorer ranks: the transparent rule weights or a learned re-ranker, with its version and metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from matcher.api.deps import IndexDep, KeyInfo, StateDep, require
from matcher.api.routes._common import AUTH_ERRORS
from matcher.ranking import LearnedScorer, scorer_label

router = APIRouter(prefix="/v1/models", tags=["matching"], responses={**AUTH_ERRORS})

StaffKey = Annotated[KeyInfo, Depends(require("admin", "consultant"))]


class RerankerInfo(BaseModel):
    version: str
    trained_at: str | None
    n_rows: int
    positives: int
    metrics: dict[str, Any] = Field(description="held-out split: auc, rule_auc, log_loss, brier, ece, …")
    feature_names: list[str]


class ModelsPublic(BaseModel):
    scorer: Literal["rule", "reranker"] = Field(description="what ranks the lists and the nightly run")
    label: str = Field(description="as stored on ranking runs and feedback snapshots, e.g. 'reranker 20261123T…'")
    setting: str = Field(description="MATCHER_RERANKER: off, auto, or a version")
    reranker: RerankerInfo | None = None


@router.get("")
def models(key: StaffKey, state: StateDep, index: IndexDep) -> ModelsPublic:
    """The scorer the service ranks with. With `auto`, a learned re-ranker is used only when a trained one is
    present and was trained on enough outcomes; otherwise the rule weights rank (docs/reranker.md)."""
    scorer = index.engine.scorer
    info = None
    if isinstance(scorer, LearnedScorer):
        meta = scorer.model.meta
        info = RerankerInfo(
            version=scorer.version,
            trained_at=meta.get("trained_at"),
            n_rows=int(meta.get("n_rows", 0)),
            positives=int(meta.get("positives", 0)),
            metrics=dict(meta.get("metrics", {})),
            feature_names=list(scorer.feature_names),
        )
    return ModelsPublic(
        scorer="reranker" if info is not None else "rule",
        label=scorer_label(scorer),
        setting=state.settings.reranker,
        reranker=info,
    )
