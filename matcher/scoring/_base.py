"""The one scoring contract every scorer implements, and the block of scores it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntFlag
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matcher.features import CitizenFeatures, NeedFeatures


class Gate(IntFlag):
    """Hard rules a citizen–need pair can break. A pair with any enabled gate set is never proposed."""

    NONE = 0
    REGULATED_PROFESSION = 1 << 0  # need's occupation is regulated in DK and the citizen has no recognised papers
    LANGUAGE = 1 << 1  # below a language level the need marks hard
    COMMUTE = 1 << 2  # beyond the citizen's max commute
    HOURS = 1 << 3  # the need's hours are outside the citizen's range (beyond the tolerance)
    DRIVING_LICENCE = 1 << 4  # lacks a required licence category
    MIN_EQF_LEVEL = 1 << 5  # below the need's minimum EQF level (off by default)
    SCHEDULE_CLASH = 1 << 6  # language-school days leave too few working days (off by default)
    EXPIRED = 1 << 7  # the need has expired
    CAPACITY = 1 << 8  # the need has no open positions


GATE_NAMES: dict[Gate, str] = {
    Gate.REGULATED_PROFESSION: "regulated_profession",
    Gate.LANGUAGE: "language",
    Gate.COMMUTE: "commute",
    Gate.HOURS: "hours",
    Gate.DRIVING_LICENCE: "driving_licence",
    Gate.MIN_EQF_LEVEL: "min_eqf_level",
    Gate.SCHEDULE_CLASH: "schedule_clash",
    Gate.EXPIRED: "expired",
    Gate.CAPACITY: "capacity",
}


_GATE_BITS: tuple[tuple[int, str], ...] = tuple((int(gate), name) for gate, name in GATE_NAMES.items())


def gate_names(bits: int) -> list[str]:
    """The names of the gates set in ``bits``, in a fixed order."""
    bits = int(bits)  # plain ints: an IntFlag operand costs an enum construction per test
    return [name for gate, name in _GATE_BITS if bits & gate] if bits else []


COMPONENTS: tuple[str, ...] = (
    "skills",
    "experience",
    "qualification",
    "language",
    "schedule",
    "geography",
    "availability",
)
"""Components that make up the weighted total, in display order. ``overqualification`` is reported beside them
but is not part of the total (the placement plan uses it as a cost)."""


@dataclass(frozen=True, eq=False)
class ScoreBlock:
    """Scores of a block of citizens (rows) × needs (columns).

    ``total``: float32 (n_c, n_n) in [0, 1], already 0 where any gate is set.
    ``components``: name → float32 (n_c, n_n) in [0, 1] for every name in :data:`COMPONENTS` plus
    ``"overqualification"`` (0 = not above the need's level, 1 = far above).
    ``gates``: uint16 (n_c, n_n) bitmask of :class:`Gate`; only gates enabled in the policy are set.
    A component that is constant over the block may be a read-only ``np.broadcast_to`` view (no memory, no
    pass over the grid): read freely, copy before writing.
    """

    total: np.ndarray
    components: dict[str, np.ndarray]
    gates: np.ndarray


class Scorer(ABC):
    """Scores blocks of citizen–need pairs.

    Contract (every implementation passes the shared test mixin in ``tests/scoring/scorer_contract.py``):

    - ``score_block(citizens, c_rows, needs, n_rows)`` scores every pair of the given citizen rows × need rows
      (integer row arrays into the feature objects) and returns a :class:`ScoreBlock` whose arrays all have shape
      ``(len(c_rows), len(n_rows))``, dtype float32 (``gates``: uint16).
    - Every component and the total lie in [0, 1]; NaN and inf never appear, whatever the input (unknown
      coordinates, empty skill lists, zero hours).
    - ``total`` is 0 wherever ``gates`` is non-zero, and only gates switched on in the policy are set.
    - Deterministic: the same inputs give bit-identical outputs, whatever the block split (scoring rows
      ``[0:10]`` then ``[10:20]`` equals scoring ``[0:20]``).
    - Vectorised: cost grows with the number of pairs through numpy/scipy array operations, never a Python loop
      over pairs. A loop over a handful of languages or components is fine.
    - Stateless between calls: anything learned is fitted before scoring and ends in ``_``.
    """

    @abstractmethod
    def score_block(
        self,
        citizens: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
    ) -> ScoreBlock:
        """Score ``citizens[c_rows]`` × ``needs[n_rows]``."""

    def bytes_per_pair(self) -> int:
        """Memory one pair costs while a block is scored (all component arrays plus temporaries); ranking sizes
        its blocks as ``memory_budget / bytes_per_pair``."""
        return 4 * (len(COMPONENTS) + 4) + 2
