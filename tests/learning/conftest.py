"""Fixtures for the learning tests: real ESCO v1.1.1 data from ``data/esco`` (loaded once per worker, ≈ 1 s);
the taxonomy and postcodes come from tests/conftest.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from matcher.config import get_settings
from matcher.taxonomy._similarity import EscoSkillData, SkillSimilarity, load_esco_skill_data


@pytest.fixture(scope="session")
def esco() -> EscoSkillData:
    return load_esco_skill_data(get_settings().data_dir)


@pytest.fixture(scope="session")
def skill_uri() -> dict[str, str]:
    """English preferred label → skill URI."""
    labels = pd.read_csv(
        get_settings().data_dir / "esco" / "skills_en.csv.gz", usecols=["conceptUri", "preferredLabel"], dtype=str
    )
    return dict(zip(labels["preferredLabel"], labels["conceptUri"], strict=True))


@pytest.fixture(scope="session")
def small_subset(esco: EscoSkillData) -> tuple[sp.csr_matrix, list[str]]:
    """A seeded real subset: 400 occupations, only the skills they use (skill × occupation)."""
    rows = np.sort(np.random.default_rng(7).choice(len(esco.occupation_uris), size=400, replace=False))
    x = esco.skill_occupation(rows)
    used = np.flatnonzero(np.diff(x.indptr) > 0)
    return sp.csr_matrix(x[used]), [esco.skill_uris[i] for i in used]


@pytest.fixture(scope="session")
def small_model(small_subset: tuple[sp.csr_matrix, list[str]]) -> SkillSimilarity:
    x, uris = small_subset
    return SkillSimilarity(n_components=16, n_neighbours=5, min_similarity=0.5, random_state=0).fit(x, uris)


@pytest.fixture(scope="session")
def full_model(esco: EscoSkillData) -> SkillSimilarity:
    """Fitted on all of ESCO with fewer components than the shipped model, to keep the suite fast."""
    return SkillSimilarity(n_components=64, random_state=0).fit(esco.skill_occupation(), esco.skill_uris)


@pytest.fixture(scope="session")
def full_related(esco: EscoSkillData, full_model: SkillSimilarity) -> sp.csr_matrix:
    return full_model.related_matrix(esco.skill_uris)
