"""Scoring layer: one Scorer contract, vectorised components and gates, explanations (docs/scoring.md)."""

from matcher.scoring._base import COMPONENTS, GATE_NAMES, Gate, ScoreBlock, Scorer, gate_names
from matcher.scoring._explain import explain
from matcher.scoring._rule import RuleScorer

__all__ = ["COMPONENTS", "GATE_NAMES", "Gate", "RuleScorer", "ScoreBlock", "Scorer", "explain", "gate_names"]
