"""A skill-similarity model fitted on ESCO occupation–skill co-occurrence, and its honest hold-out evaluation.

Why: ESCO's explicit skill–skill relations and broader-concept groups cover only part of what makes two skills
close. Skills that are required by the same kinds of occupations tend to be exchangeable or learnt together, so a
citizen holding one deserves partial credit for the other. The model learns that from the whole occupation–skill
table (essential weight 1, optional 0.5): skill × occupation matrix → PPMI (or TF-IDF) → TruncatedSVD →
L2-normalised skill embeddings. :meth:`SkillSimilarity.related_matrix` turns them into the sparse top-neighbour
matrix that the taxonomy combines with ESCO's explicit relations by elementwise max into
:attr:`matcher.taxonomy.Taxonomy.skill_related` (see ``matcher/taxonomy/_load.py``).

The evaluation (:func:`evaluate_holdout`) hides a pool of occupations from the fit and ranks only that pool, so
every ranked occupation is equally unseen by the model; ranking against training occupations instead inflates the
fitted model's numbers (see docs/similarity.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer

from matcher.taxonomy._model import keep_top_k, max_per_key, row_entries

logger = logging.getLogger(__name__)

ESSENTIAL_WEIGHT = 1.0
OPTIONAL_WEIGHT = 0.5
FORMAT_VERSION = 1
_EMBEDDINGS_FILE = "embeddings.npy"
_META_FILE = "meta.json"
_SKILLS_FILE = "skill_uris.json"
_MODEL_FILES = (_EMBEDDINGS_FILE, _SKILLS_FILE, _META_FILE)
_CONTEXT_SMOOTHING = 0.75  # Levy et al. (2015): P(context)^0.75 keeps rare occupations from dominating PMI
_BLOCK_ROWS = 2048  # rows of the similarity product held at once (2048 × 14k float32 ≈ 110 MB)

Weighting = Literal["ppmi", "tfidf"]
METHODS = ("exact", "esco_siblings", "fitted", "esco_siblings+fitted", "taxonomy", "taxonomy+fitted")
PRODUCTION_METHODS = ("taxonomy", "taxonomy+fitted")
"""Methods scored by the scoring layer's own rule on the matrix production serves (see :func:`evaluate_holdout`)."""
SCENARIOS = ("half_essential", "sparse_profile", "isco_neighbours")


@dataclass(frozen=True, eq=False)
class EscoSkillData:
    """The parts of ESCO the similarity model and its evaluation read, as arrays.

    ``weights`` is occupation × skill (1 essential, 0.5 optional), ``essential`` the 0/1 essential part,
    ``skill_broader`` skill × broader concept (0/1, from the skill pillar), ``occupation_isco`` the ISCO-08 unit
    group per occupation (-1 where unknown).
    """

    occupation_uris: list[str]
    skill_uris: list[str]
    weights: sp.csr_matrix
    essential: sp.csr_matrix
    skill_broader: sp.csr_matrix
    occupation_isco: np.ndarray
    source: str

    def __post_init__(self) -> None:
        n_occ, n_skill = len(self.occupation_uris), len(self.skill_uris)
        for name, mat, shape in (
            ("weights", self.weights, (n_occ, n_skill)),
            ("essential", self.essential, (n_occ, n_skill)),
        ):
            if mat.shape != shape:
                raise ValueError(f"EscoSkillData.{name}: shape {mat.shape}, expected {shape}")
        if self.skill_broader.shape[0] != n_skill:
            raise ValueError(f"EscoSkillData.skill_broader: {self.skill_broader.shape[0]} rows, expected {n_skill}")
        if self.occupation_isco.shape != (n_occ,):
            raise ValueError(f"EscoSkillData.occupation_isco: shape {self.occupation_isco.shape}, expected ({n_occ},)")

    def skill_occupation(self, occupation_rows: np.ndarray | None = None) -> sp.csr_matrix:
        """Skill × occupation weights (the model's training matrix), optionally restricted to some occupations."""
        w = self.weights if occupation_rows is None else self.weights[occupation_rows]
        out = sp.csr_matrix(w.T, dtype=np.float32)
        out.eliminate_zeros()
        return out


def _read_csv(path: Path, usecols: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: ESCO file missing; copy the ESCO v1.1.1 English CSVs into {path.parent} (see data/README.md)"
        )
    try:
        return pd.read_csv(path, usecols=usecols, dtype=str, keep_default_na=False)
    except ValueError as exc:
        raise ValueError(f"{path}: expected columns {usecols} ({exc})") from exc


def load_esco_skill_data(data_dir: Path) -> EscoSkillData:
    """Read occupations, skills, occupation–skill relations and the skill pillar from ``data_dir/esco``.

    Skills are every ``KnowledgeSkillCompetence`` in ``skills_en``; relations naming an unknown occupation or
    skill are dropped with a warning (they would otherwise shift rows silently).
    """
    esco = Path(data_dir) / "esco"
    occ = _read_csv(esco / "occupations_en.csv.gz", ["conceptUri", "iscoGroup"])
    skills = _read_csv(esco / "skills_en.csv.gz", ["conceptUri"])
    rel = _read_csv(esco / "occupationSkillRelations.csv.gz", ["occupationUri", "relationType", "skillUri"])
    broader = _read_csv(esco / "broaderRelationsSkillPillar.csv.gz", ["conceptType", "conceptUri", "broaderUri"])

    occupation_uris = sorted(set(occ["conceptUri"]))
    skill_uris = sorted(set(skills["conceptUri"]))
    occ_row = {u: i for i, u in enumerate(occupation_uris)}
    skill_row = {u: i for i, u in enumerate(skill_uris)}

    bad_type = ~rel["relationType"].isin(["essential", "optional"])
    if bad_type.any():
        raise ValueError(
            f"occupationSkillRelations.relationType: unexpected values {sorted(set(rel['relationType'][bad_type]))}"
        )
    o = rel["occupationUri"].map(occ_row)
    s = rel["skillUri"].map(skill_row)
    ok = o.notna() & s.notna()
    if not ok.all():
        # ESCO v1.1.1 itself has 67 relations to occupations missing from occupations_en: expected, not an error.
        logger.info("occupationSkillRelations: %d rows name an unknown occupation or skill; dropped", (~ok).sum())
    o_idx = o[ok].to_numpy(np.int64)
    s_idx = s[ok].to_numpy(np.int64)
    is_ess = (rel["relationType"][ok] == "essential").to_numpy()
    shape = (len(occupation_uris), len(skill_uris))
    w = np.where(is_ess, ESSENTIAL_WEIGHT, OPTIONAL_WEIGHT).astype(np.float32)
    weights = sp.coo_matrix((w, (o_idx, s_idx)), shape=shape).tocsr()
    weights.data = np.minimum(weights.data, ESSENTIAL_WEIGHT)  # a duplicated pair must not count twice
    essential = sp.coo_matrix(
        (np.ones(int(is_ess.sum()), np.float32), (o_idx[is_ess], s_idx[is_ess])), shape=shape
    ).tocsr()
    essential.data[:] = 1.0

    ksc = broader[broader["conceptType"] == "KnowledgeSkillCompetence"]
    child = ksc["conceptUri"].map(skill_row)
    ksc = ksc[child.notna()]
    groups = sorted(set(ksc["broaderUri"]))
    group_row = {u: i for i, u in enumerate(groups)}
    skill_broader = sp.coo_matrix(
        (
            np.ones(len(ksc), np.float32),
            (ksc["conceptUri"].map(skill_row).to_numpy(np.int64), ksc["broaderUri"].map(group_row).to_numpy(np.int64)),
        ),
        shape=(len(skill_uris), len(groups)),
    ).tocsr()
    skill_broader.data[:] = 1.0

    isco_map = dict(zip(occ["conceptUri"], occ["iscoGroup"], strict=True))
    isco = np.array([int(v) if (v := isco_map.get(u, "")).isdigit() else -1 for u in occupation_uris], dtype=np.int32)
    return EscoSkillData(
        occupation_uris=occupation_uris,
        skill_uris=skill_uris,
        weights=weights,
        essential=essential,
        skill_broader=skill_broader,
        occupation_isco=isco,
        source=f"ESCO v1.1.1 English CSVs in {Path(data_dir).name}/esco",
    )


def _ppmi(x: sp.csr_matrix) -> sp.csr_matrix:
    """Positive PMI of a non-negative count matrix, with context-distribution smoothing on the columns."""
    x = sp.csr_matrix(x, dtype=np.float64)
    total = float(x.sum())
    row = np.asarray(x.sum(axis=1)).ravel() / total
    col = np.asarray(x.sum(axis=0)).ravel() ** _CONTEXT_SMOOTHING
    col /= col.sum()
    coo = x.tocoo()
    pmi = np.log((coo.data / total) / (row[coo.row] * col[coo.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=x.shape)


class SkillSimilarity(BaseEstimator):
    """Skill embeddings from occupation–skill co-occurrence; cosine similarity gives partial credit.

    Parameters
    ----------
    n_components :
        embedding dimension (TruncatedSVD components); capped at the matrix rank minus one.
    min_cooccurrence :
        a skill needs at least this many occupations in the training data to get an embedding; rarer skills get
        no neighbours (their PMI is noise).
    weighting :
        ``"ppmi"`` (positive PMI, context smoothing 0.75) or ``"tfidf"`` (skills as documents, occupations as terms).
    n_neighbours :
        neighbours kept per skill in :meth:`related_matrix`.
    min_similarity :
        cosine below this is never a neighbour; must lie in (0, 1).
    random_state :
        seed of the randomized SVD, for reproducible artefacts.

    Attributes
    ----------
    skill_uris_ : list[str]
        the skills that have an embedding, in row order.
    embeddings_ : ndarray of float32, shape (n_skills, d)
        L2-normalised skill embeddings (rows sum of squares 1).
    explained_variance_ratio_ : float
        share of the weighted matrix's variance the SVD keeps.
    n_occupations_ : int
        occupations in the training data.
    """

    def __init__(
        self,
        n_components: int = 128,
        min_cooccurrence: int = 2,
        weighting: Weighting = "ppmi",
        n_neighbours: int = 10,
        min_similarity: float = 0.75,
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.min_cooccurrence = min_cooccurrence
        self.weighting = weighting
        self.n_neighbours = n_neighbours
        self.min_similarity = min_similarity
        self.random_state = random_state

    def _check_params(self) -> None:
        if not isinstance(self.n_components, int) or self.n_components < 1:
            raise ValueError(f"n_components: must be a positive integer, got {self.n_components!r}")
        if not isinstance(self.min_cooccurrence, int) or self.min_cooccurrence < 1:
            raise ValueError(f"min_cooccurrence: must be an integer ≥ 1, got {self.min_cooccurrence!r}")
        if self.weighting not in ("ppmi", "tfidf"):
            raise ValueError(f"weighting: must be 'ppmi' or 'tfidf', got {self.weighting!r}")
        if not isinstance(self.n_neighbours, int) or self.n_neighbours < 1:
            raise ValueError(f"n_neighbours: must be a positive integer, got {self.n_neighbours!r}")
        if not 0 < self.min_similarity < 1:
            raise ValueError(f"min_similarity: must lie in (0, 1), got {self.min_similarity!r}")

    def fit(self, skill_occupation: sp.csr_matrix | np.ndarray, skill_uris: Sequence[str]) -> SkillSimilarity:
        """Learn embeddings from a skill × occupation weight matrix (rows aligned with ``skill_uris``)."""
        self._check_params()
        x = sp.csr_matrix(skill_occupation, dtype=np.float64)
        if x.shape[0] != len(skill_uris):
            raise ValueError(f"skill_uris: {len(skill_uris)} URIs for {x.shape[0]} matrix rows")
        if len(set(skill_uris)) != len(skill_uris):
            raise ValueError("skill_uris: contains duplicates")
        if x.nnz and float(x.data.min()) < 0:
            raise ValueError("skill_occupation: weights must be non-negative")
        x.eliminate_zeros()
        counts = np.diff(x.indptr)
        keep = np.flatnonzero(counts >= self.min_cooccurrence)
        if len(keep) < 3:
            raise ValueError(
                f"skill_occupation: only {len(keep)} skills occur in ≥ {self.min_cooccurrence} occupations; "
                "lower min_cooccurrence or give more occupations"
            )
        x = x[keep]
        x = x[:, np.flatnonzero(np.diff(x.tocsc().indptr) > 0)]
        weighted = _ppmi(x) if self.weighting == "ppmi" else TfidfTransformer(sublinear_tf=True).fit_transform(x)
        k = min(self.n_components, min(weighted.shape) - 1)
        svd = TruncatedSVD(n_components=k, algorithm="randomized", random_state=self.random_state)
        # U·Σ^½ (Levy et al.): halfway between raw U and U·Σ, the usual best choice for word-vector similarity.
        us = svd.fit_transform(weighted)
        emb = us / np.sqrt(np.maximum(svd.singular_values_, 1e-12))
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        has = norms.ravel() > 0
        self.skill_uris_ = [skill_uris[i] for i in keep[has]]
        self.embeddings_ = (emb[has] / norms[has]).astype(np.float32)
        self.explained_variance_ratio_ = float(svd.explained_variance_ratio_.sum())
        self.n_occupations_ = int(skill_occupation.shape[1])
        logger.info(
            "SkillSimilarity: %d skills × %d dims from %d occupations (%.1f%% variance)",
            *self.embeddings_.shape,
            self.n_occupations_,
            100 * self.explained_variance_ratio_,
        )
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "embeddings_"):
            raise RuntimeError("SkillSimilarity is not fitted: call fit(...) or SkillSimilarity.load(folder) first")

    @property
    def skill_index_(self) -> dict[str, int]:
        """URI → embedding row (built on demand; not persisted)."""
        self._fitted()
        cached: dict[str, int] | None = self.__dict__.get("_skill_index")
        if cached is None or len(cached) != len(self.skill_uris_):
            cached = {u: i for i, u in enumerate(self.skill_uris_)}
            self.__dict__["_skill_index"] = cached
        return cached

    def similarity(self, uri_a: str, uri_b: str) -> float:
        """Cosine similarity of two skills; 0.0 when either is unknown to the model."""
        idx = self.skill_index_
        if uri_a not in idx or uri_b not in idx:
            return 0.0
        return float(self.embeddings_[idx[uri_a]] @ self.embeddings_[idx[uri_b]])

    def most_similar(self, uri: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` skills closest to ``uri`` (itself excluded), best first; [] when ``uri`` is unknown."""
        idx = self.skill_index_
        if uri not in idx:
            return []
        sims = self.embeddings_ @ self.embeddings_[idx[uri]]
        sims[idx[uri]] = -np.inf
        k = min(k, len(sims) - 1)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.skill_uris_[i], float(sims[i])) for i in top]

    def related_matrix(self, skill_uris: Sequence[str]) -> sp.csr_matrix:
        """Top-neighbour similarity among ``skill_uris``, aligned to that order: the shape of ``skill_related``.

        Each known skill keeps its ``n_neighbours`` most similar skills (from the given list) with cosine ≥
        ``min_similarity``; the result is symmetrised by elementwise max, so a row can hold a few more entries
        than ``n_neighbours`` (skills that chose it). float32, zero diagonal, values in (0, 1]; skills unknown to
        the model (or repeated URIs after their first occurrence) have empty rows and columns.
        """
        self._fitted()
        n = len(skill_uris)
        index = self.skill_index_
        seen: set[str] = set()
        pos: list[int] = []
        rows: list[int] = []
        for i, uri in enumerate(skill_uris):
            if uri in index and uri not in seen:
                seen.add(uri)
                pos.append(i)
                rows.append(index[uri])
        m = len(pos)
        if m < 2:
            empty = np.zeros(0, dtype=np.int64)
            return sp.csr_matrix((np.zeros(0, dtype=np.float32), (empty, empty)), shape=(n, n))
        emb = self.embeddings_[rows]
        k = min(self.n_neighbours, m - 1)
        r_out: list[np.ndarray] = []
        c_out: list[np.ndarray] = []
        v_out: list[np.ndarray] = []
        for start in range(0, m, _BLOCK_ROWS):
            block = emb[start : start + _BLOCK_ROWS] @ emb.T
            local = np.arange(block.shape[0])
            block[local, start + local] = -np.inf
            # Usually few pairs pass the threshold: take them and sort, far cheaper than a full argpartition.
            # In a crowded block (low dimension, low threshold) first drop everything below each row's k-th best;
            # ties with the k-th stay in, so the column tie-break below decides in both cases.
            passing = block >= self.min_similarity
            if int(passing.sum()) > 8 * k * len(local):
                kth = -np.partition(-block, k - 1, axis=1)[:, k - 1]
                passing &= block >= kth[:, None]
            r, c = np.nonzero(passing)
            v = block[r, c]
            order = np.lexsort((c, -v, r))  # by row, best first, ties by column: deterministic
            r, c, v = r[order], c[order], v[order]
            rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
            keep = rank < k
            r_out.append(start + r[keep])
            c_out.append(c[keep])
            v_out.append(v[keep])
        pos_arr = np.asarray(pos, dtype=np.int64)
        vals_all = np.minimum(np.concatenate(v_out), 1.0).astype(np.float32)
        out = sp.coo_matrix(
            (vals_all, (pos_arr[np.concatenate(r_out)], pos_arr[np.concatenate(c_out)])), shape=(n, n)
        ).tocsr()
        out = sp.csr_matrix(out.maximum(out.T), dtype=np.float32)
        out.sort_indices()
        return out

    def save(self, folder: Path) -> None:
        """Write ``embeddings.npy`` (float32), ``skill_uris.json`` and ``meta.json`` (parameters, fit facts)."""
        self._fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / _EMBEDDINGS_FILE, self.embeddings_, allow_pickle=False)
        (folder / _SKILLS_FILE).write_text(json.dumps(self.skill_uris_), encoding="utf-8")
        meta = {
            "format_version": FORMAT_VERSION,
            "params": self.get_params(),
            "explained_variance_ratio": self.explained_variance_ratio_,
            "n_occupations": self.n_occupations_,
            "n_skills": len(self.skill_uris_),
            "dim": int(self.embeddings_.shape[1]),
        }
        (folder / _META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> SkillSimilarity:
        """Read a model written by :meth:`save`; a clear error names the missing or inconsistent file."""
        folder = Path(folder)
        for name in _MODEL_FILES:
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name}: missing; rebuild with `matcher models build --out {folder}`")
        meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{folder / _META_FILE}: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION}; "
                "rebuild with `matcher models build`"
            )
        model = cls(**meta["params"])
        emb = np.load(folder / _EMBEDDINGS_FILE, allow_pickle=False)
        uris = json.loads((folder / _SKILLS_FILE).read_text(encoding="utf-8"))
        if emb.ndim != 2 or emb.shape[0] != len(uris) or emb.dtype != np.float32:
            raise ValueError(
                f"{folder}: embeddings {emb.shape} {emb.dtype} do not match {len(uris)} skill URIs (float32 expected)"
            )
        model.skill_uris_ = list(uris)
        model.embeddings_ = emb
        model.explained_variance_ratio_ = float(meta["explained_variance_ratio"])
        model.n_occupations_ = int(meta["n_occupations"])
        return model


def sibling_matrix(data: EscoSkillData) -> sp.csr_matrix:
    """ESCO's own notion of closeness: 1.0 between skills that share a broader concept (the baseline (b))."""
    b = data.skill_broader
    sib = sp.csr_matrix(b @ b.T, dtype=np.float32)
    sib.setdiag(0)
    sib.eliminate_zeros()
    sib.data[:] = 1.0
    return sib


# --------------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class RankingMetrics:
    """Mean ranking quality over the evaluation cases of one scenario and method."""

    accuracy_at_1: float
    accuracy_at_10: float
    mrr: float
    ndcg_at_10: float
    n_cases: int

    def as_dict(self) -> dict[str, float]:
        return {
            "acc@1": self.accuracy_at_1,
            "acc@10": self.accuracy_at_10,
            "MRR": self.mrr,
            "NDCG@10": self.ndcg_at_10,
        }


@dataclass(frozen=True)
class HoldoutReport:
    """``metrics[scenario][method][credit]`` plus what the numbers were computed on.

    ``exact`` is held at credit 0.0 only (no related-skill credit is exact matching); every other method once per
    evaluated credit.
    """

    metrics: dict[str, dict[str, dict[float, RankingMetrics]]]
    n_pool: int
    n_train_occupations: int
    credits: tuple[float, ...]
    seed: int
    params: dict[str, Any]

    def table(self) -> str:
        """A Markdown table: one row per scenario, method and credit."""
        lines = [
            "| scenario | method | credit | acc@1 | acc@10 | MRR | NDCG@10 | cases |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for scenario, by_method in self.metrics.items():
            for method, by_credit in by_method.items():
                for credit, m in by_credit.items():
                    lines.append(
                        f"| {scenario} | {method} | {credit:g} | {m.accuracy_at_1:.3f} | {m.accuracy_at_10:.3f} "
                        f"| {m.mrr:.3f} | {m.ndcg_at_10:.3f} | {m.n_cases} |"
                    )
        return "\n".join(lines)

    def summary(self) -> str:
        """One line per scenario: MRR change over exact matching for each method and credit (the headline)."""
        lines = ["MRR minus exact matching's MRR (positive = partial credit helps):", ""]
        for scenario, by_method in self.metrics.items():
            base = by_method["exact"][0.0].mrr
            parts = [
                f"{method} @{credit:g} {m.mrr - base:+.3f}"
                for method, by_credit in by_method.items()
                if method != "exact"
                for credit, m in by_credit.items()
            ]
            lines.append(f"- {scenario}: " + ", ".join(parts))
        return "\n".join(lines)


def _credit_vector(have: np.ndarray, related: sp.csr_matrix | None, credit: float, n_skills: int) -> np.ndarray:
    """Per skill: 1 if held, else ``credit`` × the best similarity to a held skill (the scoring layer's rule)."""
    v = np.zeros(n_skills, dtype=np.float64)
    if related is not None and len(have):
        v = credit * related[have].toarray().max(axis=0).astype(np.float64)
    v[have] = 1.0
    return v


def _production_vectors(essential: sp.csr_matrix, related: sp.csr_matrix, credit: float) -> sp.csr_matrix:
    """Per occupation, the scoring layer's skills vector over its essential skills (``NeedFeatures.skill_vector``
    with no optional skills), each row scaled so that holding every essential skill scores 1.

    An essential skill is worth 1; a skill related to one of them (in the ``related`` rows, already cut to the
    policy's top k) ``credit × similarity``, the max over the essential skills it is related to, and nothing when
    it is essential itself. Vectorised over all (occupation, essential skill, related skill) triples.
    """
    n_occ, n_skill = essential.shape
    occ = np.repeat(np.arange(n_occ), np.diff(essential.indptr))
    src = essential.indices.astype(np.int64)
    which, pos = row_entries(related, src)
    o = occ[which]
    c = related.indices[pos].astype(np.int64)
    v = credit * related.data[pos].astype(np.float64)
    key = o * n_skill + c
    key, v = max_per_key(key, v)
    not_own = ~np.isin(key, occ * n_skill + src)
    key, v = key[not_own], v[not_own]
    vec = sp.csr_matrix((v, (key // n_skill, key % n_skill)), shape=(n_occ, n_skill), dtype=np.float64)
    vec = sp.csr_matrix(vec + sp.csr_matrix(essential, dtype=np.float64))
    n_ess = np.maximum(np.diff(essential.indptr), 1).astype(np.float64)
    return sp.csr_matrix(sp.diags(1.0 / n_ess) @ vec)


def _ranking_stats(order: np.ndarray, relevant: np.ndarray) -> tuple[int, float]:
    """(rank of the first relevant item, NDCG@10 with binary relevance) for one ranked list."""
    hits = np.isin(order, relevant)
    first = int(np.argmax(hits)) + 1
    gains = hits[:10] / np.log2(np.arange(2, 2 + min(10, len(order))))
    ideal = (1.0 / np.log2(np.arange(2, 2 + min(10, len(relevant))))).sum()
    return first, float(gains.sum() / ideal)


def evaluate_holdout(
    data: EscoSkillData,
    params: dict[str, Any] | None = None,
    *,
    n_pool: int = 1000,
    n_cases: int = 500,
    noise: int = 3,
    credits: Sequence[float] = (0.5, 0.2, 0.1),
    seed: int = 0,
    methods: Sequence[str] | None = None,
    explicit_related: sp.csr_matrix | None = None,
    top_k: int = 5,
) -> HoldoutReport:
    """Does partial credit from the fitted similarity rank occupations better than exact skill matching?

    A seeded pool of ``n_pool`` occupations is hidden from the fit (the model is trained on the rest only) and
    is the only thing ranked, so no ranked occupation is known to the model. Up to ``n_cases`` pool occupations
    with ≥ 4 essential skills become pseudo-candidates in three scenarios:

    - ``half_essential``: a random half of the occupation's essential skills + ``noise`` random skills; the
      occupation itself is the one relevant answer.
    - ``sparse_profile``: a quarter of the essential skills + half of the optional ones + noise (a CV that
      names what the job involves but rarely ESCO's exact essential skills); same answer.
    - ``isco_neighbours``: all essential skills of the occupation; relevant = the other pool occupations of its
      ISCO-08 unit group (the occupation itself is not ranked).

    Every pool occupation is scored on its essential skills, for each of ``credits``, by one of two rules:

    - coverage (``esco_siblings``, ``fitted``, ``esco_siblings+fitted``): each required skill counts 1 when held
      and ``credit`` × the best related value to a held skill otherwise, with ESCO broader-concept siblings at
      1.0, the fitted model's :meth:`SkillSimilarity.related_matrix`, or their elementwise max;
    - production (:data:`PRODUCTION_METHODS`): the scoring layer's own rule (``NeedFeatures.skill_vector`` and
      the skills component's min(1, ·)) on the matrix the taxonomy serves, cut to the ``top_k`` strongest links
      per skill like ``related_skill_top_k``: ``taxonomy`` is ``explicit_related`` (ESCO's weighted skill–skill
      and skill-pillar relations, aligned with ``data.skill_uris``), ``taxonomy+fitted`` its elementwise max with
      the fitted matrix. ESCO's skill relations do not depend on occupations, so using them whole leaks nothing
      from the pool.

    ``exact`` (no related credit) is the same under both rules. ``methods`` picks a subset of :data:`METHODS`
    (default: all, or all but the production ones when ``explicit_related`` is not given). Ties are broken by one
    seeded random order per case, the same for every method; every method sees the same profiles.
    """
    if not credits or any(not 0 < c <= 1 for c in credits):
        raise ValueError(f"credits: need at least one value, each in (0, 1], got {list(credits)}")
    if methods is None:
        methods = METHODS if explicit_related is not None else tuple(m for m in METHODS if m not in PRODUCTION_METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or "exact" not in methods:
        raise ValueError(f"methods: must include 'exact' and come from {list(METHODS)}, got {list(methods)}")
    n_occ, n_skill = len(data.occupation_uris), len(data.skill_uris)
    if explicit_related is None and any(m in PRODUCTION_METHODS for m in methods):
        raise ValueError(
            f"explicit_related: required for the methods {list(PRODUCTION_METHODS)} (ESCO's weighted relations, "
            "e.g. matcher.taxonomy._load.esco_skill_related(data_dir, data.skill_uris))"
        )
    if explicit_related is not None and explicit_related.shape != (n_skill, n_skill):
        raise ValueError(f"explicit_related: shape {explicit_related.shape}, expected ({n_skill}, {n_skill})")
    if top_k < 0:
        raise ValueError(f"top_k: must be ≥ 0, got {top_k}")
    rng = np.random.default_rng(seed)
    if not 10 <= n_pool < n_occ:
        raise ValueError(f"n_pool: must be between 10 and {n_occ - 1} (the occupations minus one), got {n_pool}")
    pool = np.sort(rng.choice(n_occ, size=n_pool, replace=False))
    in_pool = np.zeros(n_occ, dtype=bool)
    in_pool[pool] = True
    train = np.flatnonzero(~in_pool)

    model = SkillSimilarity(**(params or {}))
    model.fit(data.skill_occupation(train), data.skill_uris)
    fitted = model.related_matrix(data.skill_uris)
    related: dict[str, sp.csr_matrix] = {}
    if "esco_siblings" in methods or "esco_siblings+fitted" in methods:
        siblings = sibling_matrix(data)
        related["esco_siblings"] = siblings
        related["esco_siblings+fitted"] = sp.csr_matrix(siblings.maximum(fitted))
    related["fitted"] = fitted
    if explicit_related is not None:
        explicit = sp.csr_matrix(explicit_related, dtype=np.float32)
        related["taxonomy"] = keep_top_k(explicit, top_k)
        related["taxonomy+fitted"] = keep_top_k(explicit.maximum(fitted), top_k)

    ess = data.essential[pool]
    n_ess = np.maximum(np.diff(ess.indptr), 1).astype(np.float64)
    eligible = pool[np.diff(ess.indptr) >= 4]
    cases = rng.choice(eligible, size=min(n_cases, len(eligible)), replace=False)
    noise_pool = np.flatnonzero(np.diff(sp.csc_matrix(data.weights).indptr) > 0)
    pool_pos = {int(o): i for i, o in enumerate(pool)}

    runs = [("exact", 0.0)] + [(m, float(c)) for m in METHODS[1:] if m in methods for c in credits]
    production = {
        (m, c): sp.csc_matrix(_production_vectors(ess, related[m], c)) for m, c in runs if m in PRODUCTION_METHODS
    }
    ranks: dict[str, dict[tuple[str, float], list[tuple[int, float]]]] = {
        s: {run: [] for run in runs} for s in SCENARIOS
    }
    for occ in cases:
        occ = int(occ)
        e = data.essential.indices[data.essential.indptr[occ] : data.essential.indptr[occ + 1]]
        allskills = data.weights.indices[data.weights.indptr[occ] : data.weights.indptr[occ + 1]]
        opt = np.setdiff1d(allskills, e)
        noisy = rng.choice(noise_pool, size=noise, replace=False)
        profiles = {
            "half_essential": np.concatenate([rng.choice(e, size=(len(e) + 1) // 2, replace=False), noisy]),
            "sparse_profile": np.concatenate(
                [
                    rng.choice(e, size=max(1, len(e) // 4), replace=False),
                    rng.choice(opt, size=(len(opt) + 1) // 2, replace=False),
                    noisy,
                ]
            ),
            "isco_neighbours": e,
        }
        tie = rng.random(n_pool)
        target = np.array([pool_pos[occ]])
        group = np.flatnonzero((data.occupation_isco[pool] == data.occupation_isco[occ]) & (pool != occ))
        for scenario, have in profiles.items():
            if scenario == "isco_neighbours" and (len(group) == 0 or data.occupation_isco[occ] < 0):
                continue
            held = np.unique(have)
            for method, credit in runs:
                if method in PRODUCTION_METHODS:
                    # min(1, ·) as the skills component: related credit cannot lift a pair above a full match
                    score = np.minimum(np.asarray(production[method, credit][:, held].sum(axis=1)).ravel(), 1.0)
                else:
                    score = ess @ _credit_vector(held, related.get(method), credit, n_skill) / n_ess
                if scenario == "isco_neighbours":
                    score[target[0]] = -np.inf
                    order = np.lexsort((tie, -score))[: n_pool - 1]
                    ranks[scenario][method, credit].append(_ranking_stats(order, group))
                else:
                    ranks[scenario][method, credit].append(_ranking_stats(np.lexsort((tie, -score)), target))

    metrics: dict[str, dict[str, dict[float, RankingMetrics]]] = {}
    for scenario, by_run in ranks.items():
        metrics[scenario] = {}
        for (method, credit), rows in by_run.items():
            if not rows:
                continue
            first = np.array([r for r, _ in rows], dtype=np.float64)
            metrics[scenario].setdefault(method, {})[credit] = RankingMetrics(
                accuracy_at_1=float(np.mean(first == 1)),
                accuracy_at_10=float(np.mean(first <= 10)),
                mrr=float(np.mean(1.0 / first)),
                ndcg_at_10=float(np.mean([g for _, g in rows])),
                n_cases=len(rows),
            )
    return HoldoutReport(
        metrics=metrics,
        n_pool=n_pool,
        n_train_occupations=len(train),
        credits=tuple(float(c) for c in credits),
        seed=seed,
        params=model.get_params(),
    )


def write_model_card(
    folder: Path, model: SkillSimilarity, data: EscoSkillData, report: HoldoutReport | None, build_seconds: float
) -> Path:
    """Write ``MODEL_CARD.md`` next to the artefacts: data, method, parameters, date, metrics, use and limits."""
    params = model.get_params()
    if report is None:
        metrics = "_Not evaluated in this build (`--eval-cases 0`)._"
    else:
        metrics = (
            f"Honest hold-out (`evaluate_holdout`, seed {report.seed}): {report.n_pool} occupations hidden from a "
            f"fit on the other {report.n_train_occupations}, and only the hidden pool ranked; related-skill credit "
            f"{', '.join(f'{c:g}' for c in report.credits)} (the scoring policy's `related_skill_credit`; credit 0 is "
            f"exact matching). Scenarios: `half_essential` = half of an occupation's essential "
            "skills + 3 random ones, find that occupation; `sparse_profile` = a quarter of the essential + half of "
            "the optional skills + 3 random, find that occupation; `isco_neighbours` = all essential skills, find "
            "the other occupations of its ISCO-08 unit group. Methods: `exact` (no partial credit), "
            "`esco_siblings` (shared broader concept), `fitted` (this model), and their elementwise max."
            f"\n\n{report.table()}\n\n{report.summary()}"
        )
    text = f"""# Model card: skill similarity (`models/skill_similarity`)

Built {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by `matcher models build` in {build_seconds:.1f} s.

## Data
{data.source}: {len(data.occupation_uris)} occupations, {len(data.skill_uris)} skills,
{data.weights.nnz} occupation–skill relations (essential weight {ESSENTIAL_WEIGHT}, optional {OPTIONAL_WEIGHT}).
ESCO © European Union, reused under the Commission's reuse policy (Decision 2011/833/EU).

## Method
Skill × occupation weight matrix → {params["weighting"].upper()} → TruncatedSVD ({model.embeddings_.shape[1]}
components, randomized, `random_state={params["random_state"]}`, U·Σ^½) → L2-normalised float32 embeddings.
Skills in fewer than {params["min_cooccurrence"]} occupations get no embedding. `related_matrix` keeps the
{params["n_neighbours"]} nearest skills with cosine ≥ {params["min_similarity"]}, symmetrised by max.
Variance kept by the SVD: {100 * model.explained_variance_ratio_:.1f} %. Skills embedded: {len(model.skill_uris_)}.

Parameters: `{json.dumps(params)}`

## Files
`embeddings.npy` (float32, n_skills × d, `np.load(..., allow_pickle=False)`), `skill_uris.json` (row order),
`meta.json` (parameters and fit facts). Load with `SkillSimilarity.load(folder)`.

## Metrics
{metrics}

## Intended use
Partial credit between related skills in the skills component (`Taxonomy.skill_related`, combined with ESCO's
explicit relations by elementwise max, scaled by the policy's `related_skill_credit`), and "you may also know"
suggestions for consultants. Not a measure of a person's ability; never used alone to exclude anyone.

## Limits
- Co-occurrence finds skills *needed together* as much as skills that *replace* each other: the nearest skills
  to "operate forklift" are production-line (rubber) skills whose occupations use forklifts; warehouse skills
  such as "stack empty pallets" come after them.
- Only ESCO's occupation profiles are seen: no Danish vacancies, no hiring outcomes. Skills in fewer than
  {params["min_cooccurrence"]} occupations (and new skills) get no neighbours.
- On the hold-out above, partial credit is not a free win: read the metrics before raising
  `related_skill_credit`; docs/similarity.md discusses when it helps and when it hurts.
"""
    path = Path(folder) / "MODEL_CARD.md"
    path.write_text(text, encoding="utf-8")
    return path


__all__ = [
    "METHODS",
    "PRODUCTION_METHODS",
    "SCENARIOS",
    "EscoSkillData",
    "HoldoutReport",
    "RankingMetrics",
    "SkillSimilarity",
    "evaluate_holdout",
    "load_esco_skill_data",
    "sibling_matrix",
    "write_model_card",
]
