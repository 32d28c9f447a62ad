"""Ranking quality against hidden ground truth, and a plain TF-IDF baseline to compare the engine with.

Metrics. :func:`ndcg_at_k` and :func:`recall_at_k` take a score matrix (one row per query, one column per item),
a graded relevance matrix of the same shape and an optional mask of the items that may be ranked at all; they
return one value per query, NaN where the query has no relevant (allowed) item, so that such queries are left
out of a mean rather than counted as 0. Standard definitions: DCG@k = Σ_{rank r ≤ k} rel / log2(r + 1) (linear
gain, as ``sklearn.metrics.ndcg_score``), NDCG = DCG / ideal DCG; recall@k = relevant items in the top k / all
relevant items. Ties are averaged (McSherry & Najork, 2008): a group of equally scored items shares the discounts
(and the top-k slots) of the positions it spans, which is the expected value under a random order within the tie.
So a ranker that cannot tell items apart scores exactly what a random order would, and no ranker gains or loses
by how ``argsort`` happens to break ties.

Ground truth without reading the engine. The synthetic generator records which ESCO occupation(s) each citizen's
skills were drawn from (:attr:`~matcher.synthetic.SyntheticData.truth`). A need is relevant for a citizen with
grade 2 when its occupation is one of those, 1 when it shares an ISCO-08 unit group with one of them, else 0
(:func:`graded_relevance`). Only feasible pairs count: a pair a hard gate bars (commute, hours, hard language,
licence, regulated profession, …) is neither ranked nor relevant, for every ranker alike.

Its weakness, stated plainly: the engine's own inputs (skills, occupation claims) were generated from the same
occupations, so a scorer that recovers the source occupation from the skills is rewarded by construction. The
relevance also ignores everything the engine weighs besides occupational fit (distance, schedule, language,
start date), so the engine's total score is *penalised* for what it is meant to do; the notebook therefore also
shows the engine's skills + experience components alone. No public data set with real citizen–job outcomes was
found: the job-ad corpora at hand (Kompetencer, SkillSpan) label skill spans in postings, not who fits which
posting (see docs/evaluation.md).

The baseline (:class:`TfidfRanker`): scikit-learn's ``TfidfVectorizer`` over a citizen's skill labels and past
occupations' labels (Danish where ESCO has one, as vacancy titles are Danish; skills in English, as no Danish ESCO
skill labels exist) against a need's title and skill labels, cosine similarity. It sees no gates, places or
levels — only words. (Adding the occupation a qualification leads to was tried: it did not help the baseline.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from matcher.config import ScoringPolicy, get_settings
from matcher.domain import Citizen, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.scoring import RuleScorer, ScoreBlock
from matcher.synthetic import SyntheticData, generate
from matcher.taxonomy import Postcodes, Taxonomy, get_taxonomy, load_postcodes

KS: tuple[int, ...] = (5, 10, 20)
"""The cut-offs the evaluation reports."""

NEED_DIRECTION = "candidates for a need"
CITIZEN_DIRECTION = "needs for a citizen"

MAX_PAIRS = 20_000_000
"""The evaluation world is scored as one dense block (all components kept, ~40 bytes a pair): beyond this many
pairs use a smaller world rather than gigabytes of memory."""


# --------------------------------------------------------------------------------------------- metrics


def _check_inputs(
    scores: np.ndarray, relevance: np.ndarray, k: int, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 copies; masked-out items get score -inf and relevance 0."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number ≥ 1, got {k!r}")
    s = np.array(scores, dtype=np.float64, ndmin=2)
    r = np.array(relevance, dtype=np.float64, ndmin=2)
    if s.ndim != 2:
        raise ValueError(f"scores must be a matrix (queries × items), got {s.ndim} dimensions")
    if r.shape != s.shape:
        raise ValueError(f"relevance must have the shape of scores {s.shape}, got {r.shape}")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("relevance must be finite and ≥ 0")
    if mask is not None:
        m = np.array(mask, dtype=bool, ndmin=2)
        if m.shape != s.shape:
            raise ValueError(f"mask must have the shape of scores {s.shape}, got {m.shape}")
        s = np.where(m, s, -np.inf)
        r = np.where(m, r, 0.0)
        if np.any(np.isnan(s)):
            raise ValueError("scores must not be NaN where the mask allows an item")
    elif np.any(np.isnan(s)):
        raise ValueError("scores must not be NaN (mask out items that cannot be ranked instead)")
    return s, r


class _Ranked:
    """One score matrix ranked once to a depth, so that every cut-off up to it and both metrics reuse the work.

    Only what a cut-off ≤ ``depth`` can see is sorted: the top ``depth`` items per query (``np.argpartition``,
    then a sort of those) and the tie group that crosses the window's edge, whose members outside the window are
    summed (count and relevance) rather than sorted. Per window position: relevance in score order and the
    [start, end) positions of its tie group, end corrected for the group at the edge.
    """

    def __init__(self, scores: np.ndarray, relevance: np.ndarray, depth: int) -> None:
        self.n_queries, self.n = scores.shape
        self.depth = min(depth, self.n)
        self.n_relevant = (relevance > 0).sum(axis=1)
        if self.depth == 0:
            return
        d = self.depth
        part = np.argpartition(-scores, d - 1, axis=1)[:, :d]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        s = np.take_along_axis(scores, idx, axis=1)
        self.rel = np.take_along_axis(relevance, idx, axis=1)
        pos = np.broadcast_to(np.arange(d), s.shape)
        new = np.ones(s.shape, dtype=bool)
        new[:, 1:] = s[:, 1:] != s[:, :-1]  # -inf == -inf: masked items form one group after every allowed item
        last = np.ones(s.shape, dtype=bool)
        last[:, :-1] = new[:, 1:]
        self.start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
        end = np.minimum.accumulate(np.where(last, pos + 1, d)[:, ::-1], axis=1)[:, ::-1]
        # the group at the window's edge (it holds position d - 1) may go on beyond the window
        edge = s[:, -1:]
        tied = scores == edge
        in_window = s == edge
        edge_end = self.start[:, -1] + tied.sum(axis=1)
        self.end = np.where(in_window, edge_end[:, None], end)
        self.size = self.end - self.start
        self.edge_rel_outside = (relevance * tied).sum(axis=1) - (self.rel * in_window).sum(axis=1)
        self.edge_hits_outside = ((relevance > 0) & tied).sum(axis=1) - ((self.rel > 0) & in_window).sum(axis=1)
        self.ideal = -np.sort(np.partition(-relevance, d - 1, axis=1)[:, :d], axis=1)

    def _check(self, k: int) -> None:
        if k > self.depth and self.depth < self.n:
            raise ValueError(f"k={k} is beyond the depth {self.depth} this ranking was built for")

    def ndcg(self, k: int) -> np.ndarray:
        self._check(k)
        if self.depth == 0:
            return np.full(self.n_queries, np.nan)
        cum = np.concatenate([[0.0], np.cumsum(_discounts(self.n, k))])
        share = (cum[self.end] - cum[self.start]) / self.size
        dcg = (self.rel * share).sum(axis=1) + share[:, -1] * self.edge_rel_outside
        idcg = self.ideal @ _discounts(self.depth, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(idcg > 0, dcg / idcg, np.nan)

    def recall(self, k: int) -> np.ndarray:
        self._check(k)
        if self.depth == 0:
            return np.full(self.n_queries, np.nan)
        inside = np.clip(k - self.start, 0, self.size) / self.size
        hits = ((self.rel > 0) * inside).sum(axis=1) + inside[:, -1] * self.edge_hits_outside
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_relevant > 0, hits / self.n_relevant, np.nan)


def _discounts(n: int, k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1 … min(k, n), 0 below the cut-off; length n."""
    d = np.zeros(n)
    top = min(k, n)
    d[:top] = 1.0 / np.log2(np.arange(2, top + 2))
    return d


def ndcg_at_k(
    scores: np.ndarray, relevance: np.ndarray, k: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """NDCG@k per query (row), ties averaged; NaN for a query without a relevant allowed item.

    ``scores`` and ``relevance`` (graded, ≥ 0) are queries × items; ``mask`` (same shape, bool) marks the items
    a query may rank — the others are neither ranked nor relevant.
    """
    s, r = _check_inputs(scores, relevance, k, mask)
    return _Ranked(s, r, int(k)).ndcg(int(k))


def recall_at_k(
    scores: np.ndarray, relevance: np.ndarray, k: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Recall@k per query (row): the share of relevant (relevance > 0) allowed items in the top k, ties averaged
    (an item tied across the cut-off counts by the share of its group's positions inside it); NaN for a query
    without a relevant allowed item."""
    s, r = _check_inputs(scores, relevance, k, mask)
    return _Ranked(s, r, int(k)).recall(int(k))


# --------------------------------------------------------------------------------------------- ground truth


def graded_relevance(
    truth: Sequence[Sequence[str]], need_occupations: Sequence[str | None], taxonomy: Taxonomy
) -> np.ndarray:
    """int8 citizens × needs: 2 where the need's occupation is one of the citizen's source occupations, 1 where
    it shares their ISCO-08 unit group, else 0 (also for a need without an occupation: it cannot be judged)."""
    occ_row = taxonomy.occupation_row
    n_c, n_n, n_occ = len(truth), len(need_occupations), taxonomy.n_occupations
    rows: list[int] = []
    cols: list[int] = []
    for i, uris in enumerate(truth):
        for uri in uris:
            col = occ_row.get(uri)
            if col is None:
                raise ValueError(f"truth[{i}]: {uri!r} is not an ESCO occupation of this taxonomy")
            rows.append(i)
            cols.append(col)
    held = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_c, n_occ))
    held.sum_duplicates()
    need_row = np.full(n_n, -1, dtype=np.int64)
    for j, need_uri in enumerate(need_occupations):
        if need_uri is not None:
            if need_uri not in occ_row:
                raise ValueError(f"need_occupations[{j}]: {need_uri!r} is not an ESCO occupation of this taxonomy")
            need_row[j] = occ_row[need_uri]
    known = np.flatnonzero(need_row >= 0)
    exact = np.zeros((n_c, n_n), dtype=bool)
    exact[:, known] = held[:, need_row[known]].toarray() > 0
    # the same via ISCO unit groups: citizen × unit indicator, then pick each need's unit
    units, unit_of_occ = np.unique(taxonomy.occupation_isco, return_inverse=True)
    unit_of_occ = np.where(taxonomy.occupation_isco >= 0, unit_of_occ, -1)
    held_coo = held.tocoo()
    unit_col = unit_of_occ[held_coo.col]
    ok = unit_col >= 0
    held_units = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=np.int8), (held_coo.row[ok], unit_col[ok])), shape=(n_c, len(units))
    )
    need_unit = np.where(need_row >= 0, unit_of_occ[np.maximum(need_row, 0)], -1)
    with_unit = np.flatnonzero(need_unit >= 0)
    same_unit = np.zeros((n_c, n_n), dtype=bool)
    same_unit[:, with_unit] = held_units[:, need_unit[with_unit]].toarray() > 0
    return np.where(exact, 2, np.where(same_unit, 1, 0)).astype(np.int8)


# --------------------------------------------------------------------------------------------- TF-IDF baseline


def _occupation_label(taxonomy: Taxonomy, uri: str | None) -> str:
    row = taxonomy.occupation_row.get(uri) if uri else None
    if row is None:
        return ""
    return taxonomy.occupation_labels_da[row] or taxonomy.occupation_labels[row]


def _skill_label(taxonomy: Taxonomy, uri: str | None, label: str | None) -> str:
    row = taxonomy.skill_row.get(uri) if uri else None
    return taxonomy.skill_labels[row] if row is not None else (label or "")


def citizen_text(citizen: Citizen, taxonomy: Taxonomy) -> str:
    """What the baseline reads of a citizen: skill labels and past occupations' labels."""
    parts = [_skill_label(taxonomy, s.effective_uri, s.label) for s in citizen.skills]
    parts += [_occupation_label(taxonomy, o.effective_uri) or (o.title or "") for o in citizen.occupations]
    return " ; ".join(p for p in parts if p)


def need_text(need: Vacancy, taxonomy: Taxonomy) -> str:
    """What the baseline reads of a need: its title and its essential and optional skill labels."""
    parts = [need.title]
    parts += [_skill_label(taxonomy, s.effective_uri, s.label) for s in [*need.essential_skills, *need.optional_skills]]
    return " ; ".join(p for p in parts if p)


class TfidfRanker(BaseEstimator):
    """Cosine similarity of TF-IDF vectors of citizen and need texts: the bag-of-words baseline.

    Parameters
    ----------
    ngram_range, sublinear_tf, min_df :
        passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer` (rows are L2-normalised, so a dot
        product is the cosine).
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 1), sublinear_tf: bool = True, min_df: int = 1) -> None:
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df

    def fit(self, citizen_texts: Sequence[str], need_texts: Sequence[str]) -> TfidfRanker:
        """Learn the vocabulary and IDF weights from both sides' texts together."""
        corpus = [*citizen_texts, *need_texts]
        if not corpus:
            raise ValueError("citizen_texts and need_texts are both empty: nothing to fit on")
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=self.ngram_range, sublinear_tf=self.sublinear_tf, min_df=self.min_df
        ).fit(corpus)
        return self

    def score(self, citizen_texts: Sequence[str], need_texts: Sequence[str]) -> np.ndarray:
        """float32 citizens × needs cosine similarities in [0, 1]."""
        check_is_fitted(self, "vectorizer_")
        c = self.vectorizer_.transform(list(citizen_texts))
        n = self.vectorizer_.transform(list(need_texts))
        return np.asarray((c @ n.T).toarray(), dtype=np.float32)


# --------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class EvaluationWorld:
    """A synthetic world scored both ways: the engine's full score block, the TF-IDF baseline, the hidden
    relevance and the feasibility mask, all citizens × needs in the order of ``data.citizens`` / ``data.vacancies``
    (citizen id = row + 1, need id = column + 1)."""

    data: SyntheticData
    policy: ScoringPolicy
    block: ScoreBlock
    tfidf: np.ndarray
    relevance: np.ndarray

    @cached_property
    def feasible(self) -> np.ndarray:
        """Pairs no enabled gate bars: the only pairs that are ranked or count as relevant."""
        return np.asarray(self.block.gates == 0)

    @cached_property
    def has_experience(self) -> np.ndarray:
        """Per citizen: the profile states past occupations (the others show only skills)."""
        return np.array([bool(c.occupations) for c in self.data.citizens])

    def occupational_fit(self) -> np.ndarray:
        """The engine's skills and experience components alone, weighted as in the policy: the part of its score
        the relevance grades measure."""
        w = self.policy.weights
        total = w.skills + w.experience
        if total <= 0:
            raise ValueError("policy weights: skills + experience is 0, so there is no occupational fit to show")
        c = self.block.components
        return np.asarray((w.skills * c["skills"] + w.experience * c["experience"]) / total, dtype=np.float32)

    def rankers(self) -> dict[str, np.ndarray]:
        """The two rankers the evaluation compares, citizens × needs."""
        return {"engine": self.block.total, "tf-idf": self.tfidf}


def build_world(
    n_citizens: int,
    n_needs: int,
    seed: int = 0,
    today: dt.date | None = None,
    region: str = "slagelse",
    policy: ScoringPolicy | None = None,
    taxonomy: Taxonomy | None = None,
    postcodes: Postcodes | None = None,
) -> EvaluationWorld:
    """Generate a world, score every pair with the rule scorer, fit and apply the TF-IDF baseline, grade the
    relevance. Defaults: the configured policy, the cached taxonomy, the data folder's postcodes."""
    if n_citizens * n_needs > MAX_PAIRS:
        raise ValueError(
            f"n_citizens × n_needs = {n_citizens * n_needs} pairs is above {MAX_PAIRS}: evaluate a smaller world"
        )
    settings = get_settings()
    policy = policy or settings.scoring
    taxonomy = taxonomy or get_taxonomy()
    postcodes = postcodes or load_postcodes(settings.data_dir)
    day = today or dt.date.today()
    data = generate(n_citizens, n_needs, seed=seed, today=day, region=region)
    citizens = CitizenFeatures.build(list(enumerate(data.citizens, 1)), taxonomy, postcodes, policy, day)
    needs = NeedFeatures.build(list(enumerate(data.vacancies, 1)), taxonomy, postcodes, policy, day)
    block = RuleScorer(policy, taxonomy).score_block(citizens, np.arange(citizens.n), needs, np.arange(needs.n))
    c_texts = [citizen_text(c, taxonomy) for c in data.citizens]
    n_texts = [need_text(v, taxonomy) for v in data.vacancies]
    tfidf = TfidfRanker().fit(c_texts, n_texts).score(c_texts, n_texts)
    need_occupations = [v.occupation_uri or (v.occupation_resolved.uri if v.occupation_resolved else None)
                        for v in data.vacancies]
    relevance = graded_relevance(data.truth, need_occupations, taxonomy)
    return EvaluationWorld(data=data, policy=policy, block=block, tfidf=tfidf, relevance=relevance)


def evaluate_rankers(
    rankers: Mapping[str, np.ndarray],
    relevance: np.ndarray,
    feasible: np.ndarray,
    ks: Sequence[int] = KS,
    directions: Sequence[str] = (NEED_DIRECTION, CITIZEN_DIRECTION),
) -> pd.DataFrame:
    """Mean NDCG@k and recall@k of each ranker (citizens × needs scores) over the queries that have a relevant
    feasible item, in both directions, with standard errors over queries.

    Columns: direction, ranker, k, ndcg, ndcg_se, recall, recall_se, queries.
    """
    unknown = set(directions) - {NEED_DIRECTION, CITIZEN_DIRECTION}
    if unknown:
        raise ValueError(f"directions: unknown {sorted(unknown)}; use {NEED_DIRECTION!r} or {CITIZEN_DIRECTION!r}")
    rel = np.asarray(relevance)
    mask = np.asarray(feasible, dtype=bool)
    records: list[dict[str, object]] = []

    def mean_se(values: np.ndarray) -> tuple[float, float, int]:
        v = values[~np.isnan(values)]
        if len(v) == 0:
            return float("nan"), float("nan"), 0
        se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        return float(v.mean()), se, len(v)

    for k in ks:
        _check_inputs(np.zeros((1, 1)), np.zeros((1, 1)), k, None)
    depth = max(ks, default=1)
    for direction in directions:
        need_side = direction == NEED_DIRECTION
        for name, scores in rankers.items():
            s = np.asarray(scores)
            if s.shape != rel.shape:
                raise ValueError(f"rankers[{name!r}]: shape {s.shape} is not the relevance shape {rel.shape}")
            q_s, q_r, q_m = (s.T, rel.T, mask.T) if need_side else (s, rel, mask)
            ranked = _Ranked(*_check_inputs(q_s, q_r, 1, q_m), depth)
            for k in ks:
                ndcg, ndcg_se, queries = mean_se(ranked.ndcg(int(k)))
                recall, recall_se, _ = mean_se(ranked.recall(int(k)))
                records.append({
                    "direction": direction, "ranker": name, "k": int(k), "ndcg": ndcg, "ndcg_se": ndcg_se,
                    "recall": recall, "recall_se": recall_se, "queries": queries,
                })
    return pd.DataFrame.from_records(records)
