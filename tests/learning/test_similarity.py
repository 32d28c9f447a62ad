"""SkillSimilarity on real ESCO data: determinism, shape of the related matrix, known neighbours, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.taxonomy._similarity import EscoSkillData, SkillSimilarity, sibling_matrix


def test_fit_is_deterministic_with_random_state(
    small_subset: tuple[sp.csr_matrix, list[str]], small_model: SkillSimilarity
) -> None:
    x, uris = small_subset
    again = SkillSimilarity(**small_model.get_params()).fit(x, uris)
    assert again.skill_uris_ == small_model.skill_uris_
    np.testing.assert_array_equal(again.embeddings_, small_model.embeddings_)


def test_embeddings_are_unit_float32_and_rare_skills_left_out(
    small_subset: tuple[sp.csr_matrix, list[str]], small_model: SkillSimilarity
) -> None:
    x, uris = small_subset
    emb = small_model.embeddings_
    assert emb.dtype == np.float32
    assert emb.shape == (len(small_model.skill_uris_), 16)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    counts = dict(zip(uris, np.diff(x.indptr), strict=True))
    assert all(counts[u] >= small_model.min_cooccurrence for u in small_model.skill_uris_)
    assert any(c < small_model.min_cooccurrence for c in counts.values())  # the filter had something to do


def test_related_matrix_shape_symmetry_diagonal_and_range(
    esco: EscoSkillData, full_model: SkillSimilarity, full_related: sp.csr_matrix
) -> None:
    rel = full_related
    n = len(esco.skill_uris)
    assert isinstance(rel, sp.csr_matrix)
    assert rel.shape == (n, n) and rel.dtype == np.float32
    assert rel.nnz > n  # most skills have neighbours
    assert abs(rel - rel.T).max() == 0
    assert rel.diagonal().max() == 0
    assert rel.data.min() >= full_model.min_similarity and rel.data.max() <= 1.0
    per_row = np.diff(rel.indptr)
    # own top-k plus the skills that chose this one; most rows stay close to n_neighbours
    assert np.median(per_row[per_row > 0]) <= 2 * full_model.n_neighbours


def test_related_matrix_follows_the_given_order_and_ignores_unknown(full_model: SkillSimilarity) -> None:
    uris = full_model.skill_uris_[:300]
    unknown = "http://data.europa.eu/esco/skill/not-a-skill"
    order = [*uris[::-1], unknown]
    rel = full_model.related_matrix([*uris, unknown]).toarray()
    rev = full_model.related_matrix(order).toarray()
    perm = [*range(299, -1, -1), 300]
    # same pattern; values equal up to float32 summation order in the block products
    np.testing.assert_array_equal(rev > 0, rel[np.ix_(perm, perm)] > 0)
    np.testing.assert_allclose(rev, rel[np.ix_(perm, perm)], rtol=1e-6)
    assert not rel[300].any() and not rel[:, 300].any()
    assert full_model.related_matrix([unknown]).nnz == 0


def test_forklift_sits_near_warehouse_skills(full_model: SkillSimilarity, skill_uri: dict[str, str]) -> None:
    forklift = skill_uri["operate forklift"]
    near = [u for u, _ in full_model.most_similar(forklift, k=25)]
    warehouse = [
        skill_uri[s]
        for s in (
            "stack empty pallets",
            "stack goods",
            "replace filled pallets",
            "load heavy items on pallets",
            "store warehouse goods",
        )
    ]
    assert any(u in near for u in warehouse)
    assert full_model.similarity(forklift, skill_uri["stack goods"]) > full_model.similarity(
        forklift, skill_uri["manage musical staff"]
    )
    assert full_model.similarity(forklift, "http://data.europa.eu/esco/skill/not-a-skill") == 0.0


def test_vehicle_skills_are_neighbours_in_the_related_matrix(
    esco: EscoSkillData, full_related: sp.csr_matrix, skill_uri: dict[str, str]
) -> None:
    rel = full_related
    row = {u: i for i, u in enumerate(esco.skill_uris)}
    drive = row[skill_uri["drive vehicles"]]
    neighbours = {esco.skill_uris[j] for j in rel[drive].indices}
    assert neighbours & {skill_uri["park vehicles"], skill_uri["drive automatic car"]}


def test_save_load_round_trip(tmp_path: Path, small_model: SkillSimilarity) -> None:
    small_model.save(tmp_path / "m")
    loaded = SkillSimilarity.load(tmp_path / "m")
    assert loaded.get_params() == small_model.get_params()
    assert loaded.skill_uris_ == small_model.skill_uris_
    np.testing.assert_array_equal(loaded.embeddings_, small_model.embeddings_)
    assert loaded.explained_variance_ratio_ == small_model.explained_variance_ratio_
    uris = small_model.skill_uris_[:200]
    np.testing.assert_array_equal(loaded.related_matrix(uris).toarray(), small_model.related_matrix(uris).toarray())


def test_load_names_the_missing_or_bad_file(tmp_path: Path, small_model: SkillSimilarity) -> None:
    with pytest.raises(FileNotFoundError, match=r"embeddings\.npy"):
        SkillSimilarity.load(tmp_path)
    small_model.save(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format_version"):
        SkillSimilarity.load(tmp_path)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"n_components": 0}, "n_components"),
        ({"weighting": "bm25"}, "weighting"),
        ({"min_similarity": 1.5}, "min_similarity"),
        ({"n_neighbours": 0}, "n_neighbours"),
        ({"min_cooccurrence": 0}, "min_cooccurrence"),
    ],
)
def test_bad_parameters_name_the_field(
    params: dict[str, object], field: str, small_subset: tuple[sp.csr_matrix, list[str]]
) -> None:
    x, uris = small_subset
    with pytest.raises(ValueError, match=field):
        SkillSimilarity(**params).fit(x, uris)  # type: ignore[arg-type]


def test_fit_rejects_misaligned_uris_and_unfitted_use(small_subset: tuple[sp.csr_matrix, list[str]]) -> None:
    x, uris = small_subset
    with pytest.raises(ValueError, match="skill_uris"):
        SkillSimilarity().fit(x, uris[:-1])
    with pytest.raises(RuntimeError, match="not fitted"):
        SkillSimilarity().related_matrix(uris)


def test_tfidf_weighting_also_fits(small_subset: tuple[sp.csr_matrix, list[str]]) -> None:
    x, uris = small_subset
    model = SkillSimilarity(n_components=8, weighting="tfidf").fit(x, uris)
    np.testing.assert_allclose(np.linalg.norm(model.embeddings_, axis=1), 1.0, atol=1e-5)


def test_sibling_matrix_links_skills_sharing_a_broader_concept(esco: EscoSkillData) -> None:
    sib = sibling_matrix(esco)
    assert abs(sib - sib.T).max() == 0 and sib.diagonal().max() == 0
    i = int(np.argmax(np.diff(esco.skill_broader.indptr) > 0))
    group = esco.skill_broader.indices[esco.skill_broader.indptr[i]]
    members = set(esco.skill_broader[:, group].nonzero()[0]) - {i}
    assert members and members <= set(sib[i].indices)


def _brute_force_related(model: SkillSimilarity, uris: list[str]) -> np.ndarray:
    """Reference: full cosine matrix, each row's k best ≥ threshold, then max with the transpose."""
    emb = model.embeddings_[[model.skill_index_[u] for u in uris]].astype(np.float64)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    out = np.zeros_like(sims)
    for i, row in enumerate(sims):
        best = np.argsort(-row, kind="stable")[: model.n_neighbours]
        best = best[row[best] >= model.min_similarity]
        out[i, best] = row[best]
    return np.maximum(out, out.T)


@pytest.mark.parametrize("min_similarity", [0.9, 0.2])  # few pairs pass / the crowded-block path
def test_related_matrix_matches_brute_force(small_model: SkillSimilarity, min_similarity: float) -> None:
    model = SkillSimilarity(**{**small_model.get_params(), "min_similarity": min_similarity})
    model.skill_uris_, model.embeddings_ = small_model.skill_uris_, small_model.embeddings_
    # skills with (nearly) identical embeddings tie exactly; which of them wins is a float-rounding matter
    _, first = np.unique(np.round(small_model.embeddings_, 2), axis=0, return_index=True)
    uris = [small_model.skill_uris_[i] for i in np.sort(first)[:400]]
    got = model.related_matrix(uris).toarray()
    np.testing.assert_allclose(got, _brute_force_related(model, uris), atol=1e-5)


def test_repeated_uris_get_one_row(small_model: SkillSimilarity) -> None:
    uris = small_model.skill_uris_[:50]
    rel = small_model.related_matrix([*uris, uris[0]])
    assert rel.shape == (51, 51)
    assert rel[50].nnz == 0 and rel[:, 50].nnz == 0
    np.testing.assert_array_equal(rel[:50, :50].toarray(), small_model.related_matrix(uris).toarray())
