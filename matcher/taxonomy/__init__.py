"""ESCO taxonomy: loading (any language CSV), label index, normalisation, skill extraction, similarity.

Reads ``data/`` only, never the network.
"""

from matcher.taxonomy._model import LabelTable, Taxonomy

__all__ = ["LabelTable", "Taxonomy"]
