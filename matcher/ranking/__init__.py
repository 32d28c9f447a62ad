"""Ranking: blocked top-k both ways under a memory budget, geographic blocking, the engine facade, and the
placement plan (capacity-aware assignment by min-cost flow, `_assign.py`), and the learned re-ranker
(`_rerank.py`, docs/reranker.md).

:class:`MatchEngine` is what the API and the nightly batch call; :func:`blocked_topk` is the kernel underneath
(also used directly by the benchmarks).
"""

from matcher.ranking._assign import (
    Edges,
    Plan,
    assign_greedy,
    assign_optimal,
    build_edges,
    citizen_priorities,
    placement_report,
)
from matcher.ranking._blocking import GeoGroups
from matcher.ranking._engine import AD_HOC_NEED_ID, MatchEngine
from matcher.ranking._filters import CandidateFilter, NeedFilter
from matcher.ranking._rerank import (
    FEATURE_NAMES,
    LABELS,
    SNAPSHOT_KINDS,
    InsufficientOutcomesError,
    LearnedScorer,
    RerankModel,
    TrainingSet,
    choose_scorer,
    fit_reranker,
    load_model,
    make_snapshot,
    reranker_root,
    save_model,
    scorer_label,
    versions,
)
from matcher.ranking._topk import TopK, blocked_topk, pairs_per_block, plan_blocks

__all__ = [
    "AD_HOC_NEED_ID",
    "FEATURE_NAMES",
    "LABELS",
    "SNAPSHOT_KINDS",
    "CandidateFilter",
    "Edges",
    "GeoGroups",
    "InsufficientOutcomesError",
    "LearnedScorer",
    "MatchEngine",
    "NeedFilter",
    "Plan",
    "RerankModel",
    "TopK",
    "TrainingSet",
    "assign_greedy",
    "assign_optimal",
    "blocked_topk",
    "build_edges",
    "choose_scorer",
    "citizen_priorities",
    "fit_reranker",
    "load_model",
    "make_snapshot",
    "pairs_per_block",
    "placement_report",
    "plan_blocks",
    "reranker_root",
    "save_model",
    "scorer_label",
    "versions",
]
