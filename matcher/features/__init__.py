"""Features layer: citizens and needs → columnar arrays (sparse skill vectors, level/hour/geo arrays).

Business ids ↔ matrix rows live only here (``ids``, ``row_of``). See docs/scoring.md for what each column feeds.
"""

from matcher.features._base import (
    LANGUAGE_INDEX,
    LANGUAGES,
    NEED_KINDS,
    NO_EXPIRY_DAY,
    POPCOUNT8,
    TARGET_GROUPS,
    FeatureInputError,
    FeatureTable,
    day_number,
    licence_list,
    weekday_list,
)
from matcher.features._citizen import CitizenFeatures
from matcher.features._need import NeedFeatures

__all__ = [
    "LANGUAGES",
    "LANGUAGE_INDEX",
    "NEED_KINDS",
    "NO_EXPIRY_DAY",
    "POPCOUNT8",
    "TARGET_GROUPS",
    "CitizenFeatures",
    "FeatureInputError",
    "FeatureTable",
    "NeedFeatures",
    "day_number",
    "licence_list",
    "weekday_list",
]
