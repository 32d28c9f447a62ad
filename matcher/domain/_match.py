"""What the engine says about one citizen–need pair."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Explanation(BaseModel):
    """Two to five short sentences, the same facts in Danish and English, most important first."""

    da: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class Match(BaseModel):
    """A scored pair. ``components`` are each in [0, 1]; ``gates`` name the hard rules the pair broke (a pair
    with any gate is never proposed, but consultants may see it explained on request)."""

    citizen_id: int
    need_id: int
    score: float = Field(ge=0, le=1)
    components: dict[str, float]
    gates: list[str] = Field(default_factory=list)
    explanation: Explanation = Field(default_factory=Explanation)
