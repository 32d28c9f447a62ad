from __future__ import annotations

import pytest

from matcher.config import ScoringPolicy
from matcher.scoring import RuleScorer
from matcher.taxonomy import Postcodes, Taxonomy
from tests.scoring import toy


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return toy.make_taxonomy()


@pytest.fixture(scope="session")
def postcodes() -> Postcodes:
    return toy.make_postcodes()


@pytest.fixture()
def policy() -> ScoringPolicy:
    return ScoringPolicy()


@pytest.fixture()
def scorer(policy: ScoringPolicy, taxonomy: Taxonomy) -> RuleScorer:
    return RuleScorer(policy, taxonomy)
