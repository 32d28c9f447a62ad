"""Filters a consultant can put on a ranked list. Checked on construction so a bad value names its field."""

from __future__ import annotations

import math
from dataclasses import dataclass

from matcher.domain import NeedKind, TargetGroup


def _check_radius(radius_km: float | None) -> None:
    if radius_km is not None and not (math.isfinite(radius_km) and radius_km > 0):
        raise ValueError(f"radius_km must be a positive number of kilometres, got {radius_km!r}")


def _check_min_score(min_score: float) -> None:
    if not (math.isfinite(min_score) and 0 <= min_score <= 1):
        raise ValueError(f"min_score must lie in [0, 1], got {min_score!r}")


@dataclass(frozen=True)
class CandidateFilter:
    """Restricts candidates for a need.

    ``radius_km``: only citizens living within this distance of the workplace (citizens without a known
    location are left out, since their distance cannot be checked). ``target_groups``: only these benefit
    groups. ``min_score``: only scores at or above this.
    """

    radius_km: float | None = None
    target_groups: set[TargetGroup] | None = None
    min_score: float = 0

    def __post_init__(self) -> None:
        _check_radius(self.radius_km)
        _check_min_score(self.min_score)
        if self.target_groups is not None:
            bad = [g for g in self.target_groups if not isinstance(g, TargetGroup)]
            if bad:
                raise ValueError(f"target_groups must be TargetGroup values, got {bad!r}")


@dataclass(frozen=True)
class NeedFilter:
    """Restricts the needs listed for a citizen.

    ``kinds``: only these kinds of need (e.g. hybrid internships). ``radius_km``: only workplaces within this
    distance (needs without a known location are left out). ``min_score``: only scores at or above this.
    """

    kinds: set[NeedKind] | None = None
    radius_km: float | None = None
    min_score: float = 0

    def __post_init__(self) -> None:
        _check_radius(self.radius_km)
        _check_min_score(self.min_score)
        if self.kinds is not None:
            bad = [k for k in self.kinds if not isinstance(k, NeedKind)]
            if bad:
                raise ValueError(f"kinds must be NeedKind values, got {bad!r}")
