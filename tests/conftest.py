"""Fixtures shared by every test folder: the real taxonomy (built once and cached, see tests/taxonomy) and the
real Danish postcodes. Folders that work on a hand-made toy taxonomy or toy postcodes override them in their own
conftest (features, scoring, ranking; the API tests use their own ``toy_taxonomy``)."""

from __future__ import annotations

import pytest

from matcher.config import get_settings
from matcher.taxonomy import Postcodes, Taxonomy, get_taxonomy, load_postcodes


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return get_taxonomy()


@pytest.fixture(scope="session")
def postcodes() -> Postcodes:
    return load_postcodes(get_settings().data_dir)
