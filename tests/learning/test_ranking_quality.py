"""Ranking-quality metrics, ground truth and the TF-IDF baseline (matcher.evaluation.ranking_quality)."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import ndcg_score

from matcher.evaluation.ranking_quality import (
    CITIZEN_DIRECTION,
    NEED_DIRECTION,
    EvaluationWorld,
    TfidfRanker,
    build_world,
    citizen_text,
    evaluate_rankers,
    graded_relevance,
    ndcg_at_k,
    need_text,
    recall_at_k,
)
from matcher.taxonomy import Taxonomy

TODAY = dt.date(2026, 11, 23)


def _dcg(rel_in_order: list[float], k: int) -> float:
    return sum(r / math.log2(i + 2) for i, r in enumerate(rel_in_order[:k]))


def _expected_over_tie_orders(scores: list[float], rel: list[float], k: int) -> tuple[float, float]:
    """(NDCG@k, recall@k) averaged over every order consistent with the scores: brute force, for small lists."""
    n = len(scores)
    orders = [p for p in itertools.permutations(range(n))
              if all(scores[p[i]] >= scores[p[i + 1]] for i in range(n - 1))]
    ideal = _dcg(sorted(rel, reverse=True), k)
    n_rel = sum(r > 0 for r in rel)
    ndcg = np.mean([_dcg([rel[i] for i in p], k) / ideal for p in orders])
    recall = np.mean([sum(rel[i] > 0 for i in p[:k]) / n_rel for p in orders])
    return float(ndcg), float(recall)


# --------------------------------------------------------------------------------------------- metrics


def test_ndcg_of_a_hand_made_ranking() -> None:
    scores = np.array([[3.0, 2.0, 1.0]])
    rel = np.array([[0, 1, 2]])
    got = ndcg_at_k(scores, rel, 3)
    assert got[0] == pytest.approx(_dcg([0, 1, 2], 3) / _dcg([2, 1, 0], 3))
    assert ndcg_at_k(scores, rel, 1)[0] == 0.0
    assert ndcg_at_k(-scores, rel, 3)[0] == pytest.approx(1.0)  # the ideal order


def test_recall_of_a_hand_made_ranking() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    rel = np.array([[1, 0, 2, 0, 1]])
    assert recall_at_k(scores, rel, 1)[0] == pytest.approx(1 / 3)
    assert recall_at_k(scores, rel, 3)[0] == pytest.approx(2 / 3)
    assert recall_at_k(scores, rel, 5)[0] == pytest.approx(1.0)
    assert recall_at_k(scores, rel, 50)[0] == pytest.approx(1.0)


def test_ties_are_averaged_over_the_orders_they_allow() -> None:
    # four items tied, one relevant: on average it sits at each position with probability 1/4
    scores = np.zeros((1, 4))
    rel = np.array([[1, 0, 0, 0]])
    assert ndcg_at_k(scores, rel, 1)[0] == pytest.approx(0.25)
    assert recall_at_k(scores, rel, 2)[0] == pytest.approx(0.5)
    # mixed ties, the group at the cut-off going on beyond it, graded relevance
    cases = [
        ([5, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1], 2),
        ([3, 3, 2, 2, 2, 1, 0], [2, 0, 1, 0, 2, 1, 0], 3),
        ([3, 3, 2, 2, 2, 1, 0], [2, 0, 1, 0, 2, 1, 0], 1),
        ([1, 1, 1, 0, 0, 0], [0, 1, 0, 2, 0, 1], 4),
    ]
    for s, r, k in cases:
        want_ndcg, want_recall = _expected_over_tie_orders(s, r, k)
        assert ndcg_at_k(np.array([s]), np.array([r]), k)[0] == pytest.approx(want_ndcg), (s, r, k)
        assert recall_at_k(np.array([s]), np.array([r]), k)[0] == pytest.approx(want_recall), (s, r, k)


def test_ndcg_agrees_with_scikit_learn_on_random_tied_lists() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        n, k = int(rng.integers(2, 40)), int(rng.integers(1, 45))
        scores = rng.integers(0, 5, (6, n)).astype(float)  # many ties
        rel = rng.integers(0, 3, (6, n))
        got = ndcg_at_k(scores, rel, k)
        for i in range(6):
            if rel[i].sum() == 0:
                assert np.isnan(got[i])
            else:
                assert got[i] == pytest.approx(ndcg_score(rel[i : i + 1], scores[i : i + 1], k=k))


def test_no_relevant_item_gives_nan_not_zero() -> None:
    scores = np.array([[0.3, 0.2, 0.1], [0.3, 0.2, 0.1]])
    rel = np.array([[0, 0, 0], [0, 1, 0]])
    assert np.isnan(ndcg_at_k(scores, rel, 2)[0]) and np.isnan(recall_at_k(scores, rel, 2)[0])
    assert ndcg_at_k(scores, rel, 2)[1] > 0 and recall_at_k(scores, rel, 2)[1] == 1.0
    empty = np.zeros((2, 0))
    assert np.isnan(ndcg_at_k(empty, empty, 5)).all() and np.isnan(recall_at_k(empty, empty, 5)).all()


def test_masked_items_neither_take_a_place_nor_count_as_relevant() -> None:
    scores = np.array([[9.0, 1.0, 0.0]])
    mask = np.array([[False, True, True]])
    # a masked item scored highest does not push the relevant one down
    rel = np.array([[0, 1, 0]])
    assert ndcg_at_k(scores, rel, 1, mask)[0] == pytest.approx(1.0)
    assert recall_at_k(scores, rel, 1, mask)[0] == pytest.approx(1.0)
    assert ndcg_at_k(scores, rel, 1)[0] == 0.0 and recall_at_k(scores, rel, 1)[0] == 0.0
    # a masked relevant item is not missed: it is not in the ideal list either
    low = np.array([[0.0, 1.0, 0.5]])
    rel = np.array([[2, 1, 0]])
    assert ndcg_at_k(low, rel, 1, mask)[0] == pytest.approx(1.0)
    assert recall_at_k(low, rel, 1, mask)[0] == pytest.approx(1.0)
    assert ndcg_at_k(low, rel, 1)[0] == pytest.approx(0.5) and recall_at_k(low, rel, 1)[0] == pytest.approx(0.5)
    only_relevant_masked = np.array([[False, False, True]])
    assert np.isnan(ndcg_at_k(scores, rel, 2, only_relevant_masked)[0])
    rel = np.array([[0, 1, 0]])
    # NaN scores are fine where masked out, an error where allowed
    with_nan = np.array([[np.nan, 1.0, 0.0]])
    assert ndcg_at_k(with_nan, rel, 1, mask)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="scores"):
        ndcg_at_k(with_nan, rel, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must"),
        ({"k": True}, "k must"),
        ({"k": 2.5}, "k must"),
        ({"relevance": np.zeros((1, 2))}, "relevance must have the shape"),
        ({"relevance": -np.ones((1, 3))}, "relevance must be finite"),
        ({"mask": np.ones((2, 3), dtype=bool)}, "mask must have the shape"),
        ({"scores": np.zeros((1, 1, 3))}, "scores must be a matrix"),
    ],
)
def test_bad_metric_input_names_the_argument(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"scores": np.zeros((1, 3)), "relevance": np.ones((1, 3)), "k": 2, "mask": None}
    args.update(kwargs)
    for metric in (ndcg_at_k, recall_at_k):
        with pytest.raises(ValueError, match=message):
            metric(**args)  # type: ignore[arg-type]


def test_evaluate_rankers_averages_the_per_query_metrics_both_ways() -> None:
    rng = np.random.default_rng(5)
    rel = rng.integers(0, 3, (30, 12)) * (rng.random((30, 12)) < 0.3)
    feasible = rng.random((30, 12)) < 0.8
    noisy = rel + rng.normal(0, 1.0, rel.shape)
    frame = evaluate_rankers({"perfect": rel.astype(float), "noisy": noisy}, rel, feasible, ks=(3, 5))
    assert len(frame) == 2 * 2 * 2
    perfect = frame[frame["ranker"] == "perfect"]
    assert np.allclose(perfect["ndcg"], 1.0) and (perfect["recall"] <= 1.0).all()
    row = frame[(frame["ranker"] == "noisy") & (frame["direction"] == NEED_DIRECTION) & (frame["k"] == 3)].iloc[0]
    per_need = ndcg_at_k(noisy.T, rel.T, 3, feasible.T)
    assert row["ndcg"] == pytest.approx(np.nanmean(per_need))
    assert row["queries"] == int((~np.isnan(per_need)).sum())
    row = frame[(frame["ranker"] == "noisy") & (frame["direction"] == CITIZEN_DIRECTION) & (frame["k"] == 5)].iloc[0]
    assert row["recall"] == pytest.approx(np.nanmean(recall_at_k(noisy, rel, 5, feasible)))
    assert row["ndcg"] < 1.0
    with pytest.raises(ValueError, match="directions"):
        evaluate_rankers({"x": noisy}, rel, feasible, directions=["sideways"])
    with pytest.raises(ValueError, match="rankers\\['bad'\\]"):
        evaluate_rankers({"bad": noisy[:5]}, rel, feasible)
    with pytest.raises(ValueError, match="k must"):
        evaluate_rankers({"x": noisy}, rel, feasible, ks=(0,))


# --------------------------------------------------------------------------------------------- ground truth


def test_graded_relevance_by_occupation_and_isco_unit_group(taxonomy: Taxonomy) -> None:
    isco = taxonomy.occupation_isco
    codes, counts = np.unique(isco[isco >= 0], return_counts=True)
    unit = codes[np.argmax(counts)]
    same = np.flatnonzero(isco == unit)[:2]
    other = int(np.flatnonzero((isco >= 0) & (isco != unit))[0])
    a, b, c = (taxonomy.occupation_uris[int(i)] for i in (*same, other))
    rel = graded_relevance([(a,), (c, a), (c,)], [a, b, c, None], taxonomy)
    assert rel.dtype == np.int8
    assert rel.tolist() == [[2, 1, 0, 0], [2, 1, 2, 0], [0, 0, 2, 0]]
    with pytest.raises(ValueError, match=r"truth\[1\]"):
        graded_relevance([(a,), ("http://example.org/nope",)], [a], taxonomy)
    with pytest.raises(ValueError, match=r"need_occupations\[0\]"):
        graded_relevance([(a,)], ["http://example.org/nope"], taxonomy)


# --------------------------------------------------------------------------------------------- baseline


def test_tfidf_ranker_puts_the_matching_text_first() -> None:
    citizens = ["forklift truck warehouse", "nursing care patients", "bake bread pastry"]
    needs = ["warehouse worker ; operate forklift", "bakery ; bread", "hospital ; care for patients"]
    ranker = TfidfRanker()
    with pytest.raises(NotFittedError):
        ranker.score(citizens, needs)
    scores = ranker.fit(citizens, needs).score(citizens, needs)
    assert scores.shape == (3, 3) and scores.dtype == np.float32
    assert scores.min() >= 0 and scores.max() <= 1 + 1e-6
    assert scores.argmax(axis=1).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="empty"):
        TfidfRanker().fit([], [])


@pytest.fixture(scope="module")
def world(taxonomy: Taxonomy) -> EvaluationWorld:
    return build_world(300, 60, seed=4, today=TODAY, taxonomy=taxonomy)


def test_texts_read_labels_not_uris(world: EvaluationWorld, taxonomy: Taxonomy) -> None:
    citizen = next(c for c in world.data.citizens if c.occupations and c.skills)
    text = citizen_text(citizen, taxonomy)
    assert "http" not in text
    assert taxonomy.skill_labels[taxonomy.skill_row[citizen.skills[0].uri or ""]] in text
    occ = taxonomy.occupation_row[citizen.occupations[0].uri or ""]
    assert (taxonomy.occupation_labels_da[occ] or taxonomy.occupation_labels[occ]) in text
    need = world.data.vacancies[0]
    assert need_text(need, taxonomy).startswith(need.title) and "http" not in need_text(need, taxonomy)


def test_world_is_consistent_with_its_truth(world: EvaluationWorld, taxonomy: Taxonomy) -> None:
    n_c, n_n = len(world.data.citizens), len(world.data.vacancies)
    assert world.relevance.shape == world.tfidf.shape == world.block.total.shape == (n_c, n_n)
    assert np.array_equal(world.feasible, world.block.gates == 0)
    assert not world.block.total[~world.feasible].any()
    i, j = np.argwhere(world.relevance == 2)[0]
    assert world.data.vacancies[j].occupation_uri in world.data.truth[i]
    assert world.has_experience.any() and not world.has_experience.all()
    fit = world.occupational_fit()
    assert fit.shape == (n_c, n_n) and fit.min() >= 0 and fit.max() <= 1


def test_both_rankers_beat_a_random_order_on_the_small_world(world: EvaluationWorld) -> None:
    rankers = {**world.rankers(), "random": np.zeros_like(world.tfidf)}
    frame = evaluate_rankers(rankers, world.relevance, world.feasible, ks=(10,))
    for direction in (NEED_DIRECTION, CITIZEN_DIRECTION):
        by = frame[frame["direction"] == direction].set_index("ranker")
        assert by.loc["engine", "queries"] > 10
        assert by.loc["engine", "ndcg"] > by.loc["random", "ndcg"] + 0.3
        assert by.loc["tf-idf", "ndcg"] > by.loc["random", "ndcg"] + 0.3


def test_world_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="smaller world"):
        build_world(100_000, 1_000)
