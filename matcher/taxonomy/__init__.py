"""ESCO taxonomy: loading (any language), label index, normalisation, skill extraction; Danish postcodes.

Reads ``data/`` only, never the network. Public entry points: :func:`get_taxonomy` / :func:`load_taxonomy` for
the arrays every later layer reads, :func:`get_normalizer` / :class:`Normalizer` for turning text into ESCO
concepts and for checking profiles (:class:`TaxonomyInputError` names the offending field).
"""

from matcher.taxonomy._errors import TaxonomyInputError
from matcher.taxonomy._geo import (
    Postcodes,
    haversine_km,
    haversine_km_pair,
    haversine_km_points,
    load_postcodes,
    point_radians,
)
from matcher.taxonomy._load import get_taxonomy, load_taxonomy
from matcher.taxonomy._model import LabelTable, Taxonomy
from matcher.taxonomy._normalize import Candidate, Normalizer, SkillSpan, get_normalizer

__all__ = [
    "Candidate",
    "LabelTable",
    "Normalizer",
    "Postcodes",
    "SkillSpan",
    "Taxonomy",
    "TaxonomyInputError",
    "get_normalizer",
    "get_taxonomy",
    "haversine_km",
    "haversine_km_pair",
    "haversine_km_points",
    "load_postcodes",
    "load_taxonomy",
    "point_radians",
]
