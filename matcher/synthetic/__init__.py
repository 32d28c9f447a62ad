"""Seeded synthetic data: a realistic Slagelse-area (or national) population of citizens and the demand of local
employers, drawn from real ESCO occupations and skills. For demos, tests and benchmarks; never real people."""

from matcher.synthetic._cvr import is_valid_cvr, random_cvrs
from matcher.synthetic._generate import NATIONAL, RegionPostcodes, SyntheticData, generate, region_postcodes
from matcher.synthetic._reference import Reference, load_reference

__all__ = [
    "NATIONAL",
    "Reference",
    "RegionPostcodes",
    "SyntheticData",
    "generate",
    "is_valid_cvr",
    "load_reference",
    "random_cvrs",
    "region_postcodes",
]
