"""Scoring layer: one Scorer contract, vectorised components and gates, explanations (docs/scoring.md)."""

from matcher.scoring._base import COMPONENTS, GATE_NAMES, Gate, ScoreBlock, Scorer, gate_names
from matcher.scoring._explain import NeedText, explain, need_text
from matcher.scoring._rule import RuleScorer

__all__ = [
    "COMPONENTS", "GATE_NAMES", "Gate", "NeedText", "RuleScorer", "ScoreBlock", "Scorer", "explain", "gate_names",
    "need_text",
]  # fmt: skip
