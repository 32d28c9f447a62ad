"""Ranking: blocked top-k both ways under a memory budget, geographic blocking, and the engine facade.

:class:`MatchEngine` is what the API and the nightly batch call; :func:`blocked_topk` is the kernel underneath
(also used directly by the benchmarks).
"""

from matcher.ranking._blocking import GeoGroups
from matcher.ranking._engine import AD_HOC_NEED_ID, MatchEngine
from matcher.ranking._filters import CandidateFilter, NeedFilter
from matcher.ranking._topk import TopK, blocked_topk, pairs_per_block, plan_blocks

__all__ = [
    "AD_HOC_NEED_ID",
    "CandidateFilter",
    "GeoGroups",
    "MatchEngine",
    "NeedFilter",
    "TopK",
    "blocked_topk",
    "pairs_per_block",
    "plan_blocks",
]
