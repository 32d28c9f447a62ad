"""ESCO taxonomy: loading (any language), label index, normalisation, skill extraction; Danish postcodes.

Reads ``data/`` only, never the network.
"""

from matcher.taxonomy._geo import Postcodes, haversine_km, load_postcodes
from matcher.taxonomy._model import LabelTable, Taxonomy

__all__ = ["LabelTable", "Postcodes", "Taxonomy", "haversine_km", "load_postcodes"]
