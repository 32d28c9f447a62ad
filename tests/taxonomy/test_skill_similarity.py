"""The fitted skill-similarity model in ``Taxonomy.skill_related``: what it adds, the setting, errors, the cache,
and the partial credit it earns end to end (NeedFeatures → RuleScorer)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.config import ScoringPolicy, get_settings
from matcher.domain import Citizen, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.features._need import top_related
from matcher.scoring import RuleScorer
from matcher.taxonomy import Taxonomy, load_postcodes, load_taxonomy
from matcher.taxonomy._load import cache_folder, esco_skill_related, similarity_model_dir, taxonomy_version
from matcher.taxonomy._similarity import SkillSimilarity, load_esco_skill_data
from tests.taxonomy.conftest import copy_data_dir

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def esco_only() -> Taxonomy:
    """The same data with the model switched off (cached in the settings' cache folder like the default one)."""
    return load_taxonomy(skill_similarity="off")


@pytest.fixture(scope="module")
def shipped_related(taxonomy: Taxonomy) -> sp.csr_matrix:
    return SkillSimilarity.load(get_settings().models_dir / "skill_similarity").related_matrix(taxonomy.skill_uris)


def test_default_taxonomy_is_esco_relations_max_fitted_model(
    taxonomy: Taxonomy, esco_only: Taxonomy, shipped_related: sp.csr_matrix
) -> None:
    assert taxonomy.skill_uris == esco_only.skill_uris
    assert taxonomy.version != esco_only.version
    assert taxonomy.extras["skill_similarity"].endswith("skill_similarity")
    assert "skill_similarity" not in esco_only.extras
    expected = esco_only.skill_related.maximum(shipped_related)
    assert (taxonomy.skill_related != expected).nnz == 0
    # the model adds pairs ESCO's relations lack: many thousands of them
    fitted_only = (taxonomy.skill_related > 0).astype(np.int8) - (esco_only.skill_related > 0).astype(np.int8)
    assert fitted_only.min() >= 0  # nothing ESCO relates is lost
    assert fitted_only.nnz > 10_000
    assert int(taxonomy.extras["skill_related_fitted_nnz"]) == shipped_related.nnz


def test_off_gives_esco_relations_only(esco_only: Taxonomy) -> None:
    explicit = esco_skill_related(get_settings().data_dir, esco_only.skill_uris)
    assert (esco_only.skill_related != explicit).nnz == 0
    assert esco_only.extras["skill_related_nnz"] == esco_only.extras["skill_related_esco_nnz"]


def _fitted_only_pair(taxonomy: Taxonomy, esco_only: Taxonomy, k: int) -> tuple[int, int, float]:
    """(asked, held, similarity): a pair only the model relates, within the top k the scoring layer keeps."""
    top = top_related(taxonomy, k).tocoo()
    ok = (
        (np.asarray(esco_only.skill_related[top.row, top.col]).ravel() == 0)
        & ~taxonomy.skill_is_language[top.row]
        & ~taxonomy.skill_is_language[top.col]
    )
    i = int(np.flatnonzero(ok)[0])
    return int(top.row[i]), int(top.col[i]), float(top.data[i])


def test_citizen_with_only_a_fitted_related_skill_gets_partial_credit(taxonomy: Taxonomy, esco_only: Taxonomy) -> None:
    policy = ScoringPolicy()
    asked, held, similarity = _fitted_only_pair(taxonomy, esco_only, policy.related_skill_top_k)
    need = Vacancy.model_validate(
        {"employer_id": 1, "title": "Medarbejder", "postcode": "4200",
         "essential_skills": [{"uri": taxonomy.skill_uris[asked]}]}
    )  # fmt: skip
    citizen = Citizen.model_validate(
        {"external_ref": "c", "target_group": "jobparat", "postcode": "4200",
         "skills": [{"uri": taxonomy.skill_uris[held], "provenance": "observed_in_internship"}]}
    )  # fmt: skip
    postcodes = load_postcodes(get_settings().data_dir)

    def skills_score(tax: Taxonomy) -> float:
        cf = CitizenFeatures.build([(1, citizen)], tax, postcodes, policy, TODAY)
        nf = NeedFeatures.build([(1, need)], tax, postcodes, policy, TODAY)
        block = RuleScorer(policy, tax).score_block(cf, np.arange(1), nf, np.arange(1))
        return float(np.asarray(block.components["skills"])[0, 0])

    # one essential skill, no optional ones: it carries the whole weight; observed in an internship weighs 1.0
    assert skills_score(taxonomy) == pytest.approx(policy.related_skill_credit * similarity, rel=1e-5)
    assert skills_score(esco_only) == 0.0


# --------------------------------------------------------------------------------------------- the setting


def test_auto_without_a_model_is_esco_only_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="matcher.taxonomy._load"):
        assert similarity_model_dir("auto", tmp_path) is None
    assert "no model" in caplog.text
    assert similarity_model_dir("off", tmp_path) is None
    (tmp_path / "skill_similarity").mkdir()
    assert similarity_model_dir("auto", tmp_path) == tmp_path / "skill_similarity"
    assert similarity_model_dir("skill_similarity", tmp_path) == tmp_path / "skill_similarity"


def test_named_missing_model_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"skill_similarity .*'nope': no such model folder"):
        similarity_model_dir("nope", tmp_path)
    with pytest.raises(ValueError, match="no such model folder"):
        load_taxonomy(skill_similarity=str(tmp_path / "missing" / "model"))


@pytest.fixture(scope="module")
def small_model() -> tuple[SkillSimilarity, SkillSimilarity]:
    """Two small models fitted on real ESCO occupations, as two builds of one folder would give."""
    esco = load_esco_skill_data(get_settings().data_dir)
    rows = np.sort(np.random.default_rng(3).choice(len(esco.occupation_uris), size=600, replace=False))
    x = esco.skill_occupation(rows)
    a = SkillSimilarity(n_components=16, n_neighbours=5, min_similarity=0.6).fit(x, esco.skill_uris)
    b = SkillSimilarity(n_components=24, n_neighbours=3, min_similarity=0.8).fit(x, esco.skill_uris)
    return a, b


def test_corrupt_named_model_is_an_error(tmp_path: Path, small_model: tuple[SkillSimilarity, SkillSimilarity]) -> None:
    folder = tmp_path / "model"
    small_model[0].save(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    (folder / "meta.json").write_text(json.dumps({**meta, "format_version": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"cannot be read .*format_version"):
        load_taxonomy(get_settings().data_dir, tmp_path / "cache", skill_similarity=str(folder))
    (folder / "embeddings.npy").unlink()
    with pytest.raises(ValueError, match=r"cannot be read .*embeddings\.npy: missing"):
        load_taxonomy(get_settings().data_dir, tmp_path / "cache", skill_similarity=str(folder))


def test_rebuilt_model_invalidates_the_cache(
    tmp_path: Path, small_model: tuple[SkillSimilarity, SkillSimilarity], esco_only: Taxonomy
) -> None:
    data = copy_data_dir(tmp_path / "data")
    cache = tmp_path / "cache"
    folder = tmp_path / "models" / "skill_similarity"
    first_model, second_model = small_model
    first_model.save(folder)
    first = load_taxonomy(data, cache, skill_similarity=str(folder))
    expected = esco_only.skill_related.maximum(first_model.related_matrix(first.skill_uris))
    assert (first.skill_related != expected).nnz == 0
    assert load_taxonomy(data, cache, skill_similarity=str(folder)).version == first.version  # a cache hit

    second_model.save(folder)  # `matcher models build` into the same folder
    assert taxonomy_version(data, str(folder)) != first.version
    second = load_taxonomy(data, cache, skill_similarity=str(folder))
    assert second.version != first.version and cache_folder(cache, second.version).is_dir()
    expected = esco_only.skill_related.maximum(second_model.related_matrix(second.skill_uris))
    assert (second.skill_related != expected).nnz == 0
    assert (second.skill_related != first.skill_related).nnz > 0
    assert taxonomy_version(data, "off") == esco_only.version  # off: keyed on the data alone
