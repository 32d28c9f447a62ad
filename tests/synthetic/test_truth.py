"""Hidden ground truth of the generator: the source occupations each citizen's skills were drawn from."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.domain import Citizen, Provenance
from matcher.synthetic import SyntheticData, generate
from matcher.taxonomy import Taxonomy, get_taxonomy

from .conftest import TODAY


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return get_taxonomy()


def test_truth_is_aligned_and_off_the_citizen_model(world: SyntheticData, taxonomy: Taxonomy) -> None:
    assert len(world.truth) == len(world.citizens)
    assert "truth" not in Citizen.model_fields
    assert {len(t) for t in world.truth} == {1, 2}
    known = taxonomy.occupation_row
    assert all(uri in known for t in world.truth for uri in t)


def test_truth_equals_the_stated_occupations_of_citizens_with_work_experience(world: SyntheticData) -> None:
    with_experience = 0
    for citizen, truth in zip(world.citizens, world.truth, strict=True):
        if citizen.occupations:
            with_experience += 1
            assert tuple(o.uri for o in citizen.occupations) == truth
    # the rest have a source occupation the engine never sees as a claim
    assert 0 < with_experience < len(world.citizens)


def test_every_skill_from_past_jobs_belongs_to_a_truth_occupation(world: SyntheticData, taxonomy: Taxonomy) -> None:
    """Skills not from a qualification were drawn from the essential/optional ESCO skills of the truth
    occupations; a truth that named the wrong occupation would break this for most citizens."""
    occ_skills = (taxonomy.occ_essential + taxonomy.occ_optional).tocsr()
    checked = 0
    for citizen, truth in zip(world.citizens, world.truth, strict=True):
        rows = [taxonomy.occupation_row[u] for u in truth]
        allowed = {taxonomy.skill_uris[j] for j in np.unique(occ_skills[rows].indices)}
        for claim in citizen.skills:
            if claim.provenance is not Provenance.from_qualification:
                assert claim.uri in allowed, (citizen.external_ref, claim.uri, truth)
                checked += 1
    assert checked > 5 * len(world.citizens)


def test_truth_is_deterministic_and_independent_of_the_vacancies() -> None:
    first = generate(150, 10, seed=11, today=TODAY)
    again = generate(150, 60, seed=11, today=TODAY)
    other = generate(150, 10, seed=12, today=TODAY)
    assert first.truth == again.truth
    assert first.truth != other.truth
    assert generate(0, 3, seed=11, today=TODAY).truth == []
