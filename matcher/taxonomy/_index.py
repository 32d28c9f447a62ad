"""The label index behind normalisation: folded-label dictionaries and a character n-gram TF-IDF matrix.

One :class:`LabelIndex` per concept kind (occupations, skills). It is derived from a :class:`LabelTable` only, so
it can be built for any taxonomy (the quality benchmark builds one on a taxonomy with held-out labels) and cached
next to the taxonomy as arrays + JSON, keyed by the taxonomy's version: fitting TF-IDF on ~100k labels takes a
few seconds, loading the fitted matrix a few tens of milliseconds.

Why char_wb n-grams (2–4) with sublinear tf: they are robust to typos, inflection and compounding (lagermedarbejder
shares most n-grams with "lager medarbejder"), and need no Danish tokenizer or stemmer. They only *propose*
candidates; rapidfuzz decides the order (see :mod:`matcher.taxonomy._normalize`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from matcher.taxonomy._model import LabelTable
from matcher.taxonomy._text import compact, fold, stem_key

NGRAMS = (2, 4)
_BASE = 38  # symbols of folded text: 0 = none, 1 = space, 2–11 digits, 12–37 letters
_SYMBOL = np.zeros(256, np.int64)
_SYMBOL[ord(" ")] = 1
_SYMBOL[ord("0") : ord("9") + 1] = np.arange(2, 12)
_SYMBOL[ord("a") : ord("z") + 1] = np.arange(12, 38)


def char_wb_grams(docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(document number, n-gram code) of every ``char_wb`` n-gram of ``docs`` (folded text: [0-9a-z ] only).

    The same n-grams as scikit-learn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS)`` — each word
    padded with one space either side, n-grams never crossing words — but computed with numpy over all
    documents at once, because sklearn's per-n-gram Python loop takes ~10 s on the ~100k skill labels and this
    takes well under one. An n-gram of up to 4 symbols is coded as an integer in base 38.
    """
    padded = [" " + " ".join(d.split()).replace(" ", "  ") + " " if d.strip() else "" for d in docs]
    lengths = np.fromiter((len(p) for p in padded), np.int64, count=len(padded))
    data = "".join(padded).encode("ascii", errors="replace")
    sym = _SYMBOL[np.frombuffer(data, np.uint8)]
    n_pos = len(sym)
    doc_of = np.repeat(np.arange(len(docs)), lengths)
    # End (exclusive) of the padded word each position belongs to: words are separated by a double space.
    is_start = np.zeros(n_pos + 1, bool)
    if n_pos:
        pair = (sym[:-1] == 1) & (np.concatenate([[1], sym[:-2]]) != 1) if n_pos > 1 else np.zeros(0, bool)
        is_start[0] = True
        is_start[1:n_pos][pair[: n_pos - 1]] = True  # a space that closes a word: the next char opens one
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        is_start[starts[lengths > 0]] = True
    word_id = np.cumsum(is_start[:n_pos]) - 1
    word_bounds = np.flatnonzero(is_start[:n_pos])
    word_end = np.append(word_bounds[1:], n_pos)[word_id] if n_pos else np.zeros(0, np.int64)
    ext = np.concatenate([sym, np.zeros(NGRAMS[1], np.int64)])
    pos = np.arange(n_pos)
    docs_out, codes_out = [], []
    code = np.zeros(n_pos, np.int64)
    for n in range(1, NGRAMS[1] + 1):
        code = code * _BASE + ext[n - 1 : n - 1 + n_pos]
        if n >= NGRAMS[0]:
            ok = pos + n <= word_end
            docs_out.append(doc_of[ok])
            codes_out.append(code[ok] * _BASE ** (NGRAMS[1] - n))
    if not docs_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(docs_out), np.concatenate(codes_out)


_SYMBOL_OF = {
    " ": 1,
    **{c: i + 2 for i, c in enumerate("0123456789")},
    **{c: i + 12 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")},
}


def query_grams(folded: str) -> list[int]:
    """:func:`char_wb_grams` codes of one short folded string, in plain Python (numpy's per-call overhead
    dominates for a single title). char_wb n-grams never cross words, so they are cached per word."""
    out: list[int] = []
    for word in folded.split():
        out.extend(_word_grams(word))
    return out


@lru_cache(maxsize=100_000)
def _word_grams(word: str) -> tuple[int, ...]:
    lo, hi = NGRAMS
    symbols = [1, *(_SYMBOL_OF.get(c, 0) for c in word), 1]
    out = []
    for n in range(lo, min(hi, len(symbols)) + 1):
        for i in range(len(symbols) - n + 1):
            code = 0
            for s in symbols[i : i + n]:
                code = code * _BASE + s
            out.append(code * _BASE ** (hi - n))
    return tuple(out)


def gram_text(code: int) -> str:
    """The n-gram an integer code stands for (for tests and debugging)."""
    chars = []
    for k in range(NGRAMS[1]):
        digit = (code // _BASE ** (NGRAMS[1] - 1 - k)) % _BASE
        if digit:
            chars.append(" 0123456789abcdefghijklmnopqrstuvwxyz"[digit - 1])
    return "".join(chars)


def tfidf_fit(docs: list[str]) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """(vocabulary codes sorted, idf, L2-normalised document × n-gram matrix) with TfidfVectorizer's maths:
    sublinear tf (1 + ln tf), smooth idf (ln((1 + n) / (1 + df)) + 1)."""
    doc, code = char_wb_grams(docs)
    pair = doc * _BASE ** NGRAMS[1] + code
    pair, tf = np.unique(pair, return_counts=True)
    doc, code = pair // _BASE ** NGRAMS[1], pair % _BASE ** NGRAMS[1]
    vocab = np.unique(code)
    col = np.searchsorted(vocab, code)  # cheaper than unique(return_inverse=True)'s stable argsort
    df = np.bincount(col, minlength=len(vocab))
    idf = (np.log((1 + len(docs)) / (1 + df)) + 1).astype(np.float32)
    values = (1 + np.log(tf.astype(np.float32))) * idf[col]
    matrix = sp.csr_matrix((values, (doc, col)), shape=(len(docs), len(vocab)), dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    matrix = sp.csr_matrix(sp.diags(1 / norms).astype(np.float32) @ matrix)
    return vocab, idf, matrix


@dataclass(frozen=True, eq=False)
class StringGroups:
    """A many-to-one map from strings to integer ids, stored as arrays so it loads fast (no per-item lists).

    ``strings`` are unique; the ids of ``strings[g]`` are ``members[ptr[g]:ptr[g + 1]]``.
    """

    strings: list[str]
    ptr: np.ndarray
    members: np.ndarray

    @classmethod
    def build(cls, values: list[str]) -> StringGroups:
        group_of: dict[str, int] = {}
        groups = np.fromiter(
            (group_of.setdefault(v, len(group_of)) if v else -1 for v in values), np.int64, count=len(values)
        )
        ids = np.flatnonzero(groups >= 0)
        members = ids[np.argsort(groups[ids], kind="stable")]
        ptr = np.zeros(len(group_of) + 1, np.int64)
        np.cumsum(np.bincount(groups[ids], minlength=len(group_of)), out=ptr[1:])
        return cls(strings=list(group_of), ptr=ptr, members=members.astype(np.int32))

    @cached_property
    def _group(self) -> dict[str, int]:
        return dict(zip(self.strings, range(len(self.strings)), strict=True))

    def id(self, value: str) -> int | None:
        """The group number of ``value`` (its position in ``strings``), or None."""
        return self._group.get(value)

    def get(self, value: str) -> np.ndarray:
        """Ids whose string is ``value`` (empty when none)."""
        g = self._group.get(value)
        if g is None:
            return self.members[:0]
        return self.members[self.ptr[g] : self.ptr[g + 1]]


@dataclass(frozen=True, eq=False)
class LabelIndex:
    """Unique folded label keys of one concept kind, with lookup maps and a TF-IDF matrix.

    ``labels`` maps each folded key (``labels.strings[k]``, "key k") to its label-table rows; ``compact`` and
    ``stem`` map the space-free and stemmed forms of the keys to key ids. ``matrix`` is the TF-IDF matrix
    (key × n-gram, CSR, rows L2-normalised) and ``postings`` the same matrix
    transposed (n-gram × key, CSR), so a query touches only the rows of its own n-grams.
    """

    labels: StringGroups
    compact: StringGroups
    stem: StringGroups
    vocabulary: np.ndarray
    idf: np.ndarray
    matrix: sp.csr_matrix
    postings: sp.csr_matrix

    @property
    def keys(self) -> list[str]:
        return self.labels.strings

    # ----------------------------------------------------------------------------------------- building

    @classmethod
    def build(cls, table: LabelTable) -> LabelIndex:
        labels = StringGroups.build([fold(t) for t in table.text])
        keys = labels.strings
        vocab, idf, matrix = tfidf_fit(keys)
        return cls(
            labels=labels,
            compact=StringGroups.build([compact(k) for k in keys]),
            stem=StringGroups.build([stem_key(k) for k in keys]),
            vocabulary=vocab,
            idf=idf,
            matrix=matrix,
            postings=sp.csr_matrix(matrix.T),
        )

    def save(self, folder: Path, name: str) -> None:
        arrays: dict[str, np.ndarray] = {"idf": self.idf, "vocabulary": self.vocabulary}
        strings: dict[str, list[str]] = {}
        for part in _GROUPS:
            groups: StringGroups = getattr(self, part)
            arrays[f"{part}_ptr"], arrays[f"{part}_members"] = groups.ptr, groups.members
            strings[part] = groups.strings
        np.savez(folder / f"{name}.npz", **arrays)  # type: ignore[arg-type]
        sp.save_npz(folder / f"{name}_matrix.npz", self.matrix, compressed=False)
        sp.save_npz(folder / f"{name}_postings.npz", self.postings, compressed=False)
        (folder / f"{name}.json").write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> LabelIndex:
        strings = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        with np.load(folder / f"{name}.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        groups = {
            part: StringGroups(strings[part], arrays[f"{part}_ptr"], arrays[f"{part}_members"]) for part in _GROUPS
        }
        return cls(
            labels=groups["labels"],
            compact=groups["compact"],
            stem=groups["stem"],
            vocabulary=arrays["vocabulary"],
            idf=arrays["idf"],
            matrix=sp.csr_matrix(sp.load_npz(folder / f"{name}_matrix.npz")),
            postings=sp.csr_matrix(sp.load_npz(folder / f"{name}_postings.npz")),
        )

    # ----------------------------------------------------------------------------------------- lookups

    @cached_property
    def _posting_lengths(self) -> np.ndarray:
        return np.diff(self.postings.indptr)

    def _rows(self, keys: np.ndarray, small: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, data, indptr) of the matrix rows ``keys``. scipy's ``matrix[keys]`` is faster on many rows;
        for a few, its fixed cost (≈ 0.1 ms) dominates and a numpy gather is cheaper."""
        if not small:
            rows = self.matrix[keys]
            return rows.indices, rows.data, rows.indptr
        starts = self.matrix.indptr[keys]
        lengths = self.matrix.indptr[keys + 1] - starts
        indptr = np.zeros(len(keys) + 1, self.matrix.indptr.dtype)
        np.cumsum(lengths, out=indptr[1:])
        gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(int(indptr[-1]))
        return self.matrix.indices[gather], self.matrix.data[gather], indptr

    def tfidf_top(self, folded: str, k: int, floor: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` keys with the highest cosine to ``folded`` (keys, cosines), best first, none below
        ``floor``. The same computation as :meth:`tfidf_top_many` on a block of one, so one query and a batch
        give identical results."""
        return self._top_block([folded], k, floor, np.zeros(self.matrix.shape[1]))[0]

    def tfidf_top_many(
        self, queries: Sequence[str], k: int, floor: float = 0.15
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`tfidf_top` of each folded query, computed in blocks of :data:`BLOCK_QUERIES` queries.

        Every step works on the whole block: one sparse product for the candidate stage, one sparse
        matrix-vector product for the exact cosines, one sort for the top ``k``. Each query's numbers depend on
        its own row only (scipy's CSR products add up a row's terms in the row's own order), so the answer does
        not depend on which other queries share the block.
        """
        out: list[tuple[np.ndarray, np.ndarray]] = []
        dense = np.zeros(min(len(queries), BLOCK_QUERIES) * self.matrix.shape[1])
        for start in range(0, len(queries), BLOCK_QUERIES):
            out.extend(self._top_block(queries[start : start + BLOCK_QUERIES], k, floor, dense))
        return out

    def _top_block(
        self, queries: Sequence[str], k: int, floor: float, dense: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The query vectors are built exactly as :func:`tfidf_fit` builds a label's; then two stages.

        1. The queries' *rare* n-grams (in at most :data:`COMMON_SHARE` of the keys) pick candidates: a sparse
           product with the n-gram × key postings gives a partial cosine per key, and each query keeps the keys
           at or above its :data:`RARE_CANDIDATES`-th best partial cosine. Gathering the common n-grams' posting
           lists (thousands of keys each) would be ~90 % of the work for keys that rarely make the top. A query
           made only of rare or only of common n-grams uses them all.
        2. Exact cosines of the candidates come from their own rows of the key × n-gram matrix, against the
           full query vector; the ``k`` best at or above ``floor`` are kept, ties by key.

        ``dense`` is zeros of at least ``len(queries)`` × vocabulary size, for the dense query vectors; it is
        zeros again on return, so one buffer serves every block of a call.
        """
        n, n_keys, n_grams = len(queries), self.matrix.shape[0], self.matrix.shape[1]
        if n_grams == 0:  # an index without labels
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        small = n <= SMALL_BLOCK
        # Only exact integer work differs between small and large blocks (which code lists the n-grams, which
        # gathers the rows), never the arithmetic, so results do not depend on the block size.
        if small:
            grams = [query_grams(q) for q in queries]
            doc = np.repeat(np.arange(n), [len(g) for g in grams])
            code = np.fromiter(itertools.chain.from_iterable(grams), np.int64, count=len(doc))
        else:
            doc, code = char_wb_grams(list(queries))
        col = np.minimum(np.searchsorted(self.vocabulary, code), n_grams - 1)
        known = self.vocabulary[col] == code
        pair, tf = np.unique(doc[known] * n_grams + col[known], return_counts=True)
        row, col = pair // n_grams, pair % n_grams
        weights = (1.0 + np.log(tf)) * self.idf[col]
        weights /= np.sqrt(np.bincount(row, weights=weights * weights, minlength=n))[row]

        rare = self._posting_lengths[col] <= COMMON_SHARE * n_keys
        has_rare = np.zeros(n, bool)
        has_rare[row[rare]] = True
        picks = rare | ~has_rare[row]
        picks_ptr = np.zeros(n + 1, self.postings.indptr.dtype)
        np.cumsum(np.bincount(row[picks], minlength=n), out=picks_ptr[1:])
        # float32 like the postings, so that scipy multiplies without converting the whole postings matrix.
        picking = sp.csr_matrix(
            (weights[picks].astype(np.float32), col[picks].astype(self.postings.indices.dtype), picks_ptr),
            shape=(n, n_grams),
        )
        partial = picking @ self.postings
        ptr = partial.indptr
        per_row = ptr[1:] - ptr[:-1]
        keep = np.ones(partial.nnz, bool)
        for i in np.flatnonzero(per_row > RARE_CANDIDATES).tolist():
            values = partial.data[ptr[i] : ptr[i + 1]]
            cut = len(values) - RARE_CANDIDATES
            keep[ptr[i] : ptr[i + 1]] = values >= np.partition(values, cut)[cut]
        cand_row = np.repeat(np.arange(n), per_row)[keep]
        cand_key = partial.indices[keep]

        # Exact cosines: the candidates' rows of the key × n-gram matrix, each shifted into its query's slice
        # of one long vector holding the block's dense query vectors, so one sparse matrix-vector product
        # computes them all.
        where = row * n_grams + col
        dense[where] = weights
        indices, data, indptr = self._rows(cand_key, small)
        lengths = indptr[1:] - indptr[:-1]
        shifted = indices + np.repeat((cand_row * n_grams).astype(indices.dtype), lengths)
        exact = sp.csr_matrix((data, shifted, indptr), shape=(len(cand_key), n * n_grams)) @ dense[: n * n_grams]
        dense[where] = 0.0

        above = exact >= floor
        cand_row, cand_key, exact = cand_row[above], cand_key[above], exact[above]
        order = np.lexsort((cand_key, -exact, cand_row))
        per_row = np.bincount(cand_row, minlength=n)
        first = np.cumsum(per_row) - per_row
        top = order[np.arange(len(order)) - np.repeat(first, per_row) < k]
        keys, cosines = cand_key[top].astype(np.int64), exact[top].astype(np.float32)
        ends = np.cumsum(np.minimum(per_row, k)).tolist()
        return [(keys[a:b], cosines[a:b]) for a, b in zip([0, *ends], ends, strict=False)]


_GROUPS = ("labels", "compact", "stem")
COMMON_SHARE = 0.02
"""An n-gram in more than this share of the keys is "common": it does not pick candidates (see _top_block).
2 % keeps the hold-out accuracy of the full product (a fixed 800 cost English skills 1 point acc@1)."""
RARE_CANDIDATES = 200
BLOCK_QUERIES = 64
"""Queries per block of :meth:`LabelIndex.tfidf_top_many`. It bounds the block's temporaries: ≈ 200 candidate rows
of ≈ 70 entries per query (≈ 10 MB for 64 titles) and the dense query vectors (8 bytes × vocabulary per query,
≈ 13 MB, mostly untouched zero pages). Larger blocks gain nothing: the arrays fall out of cache."""
SMALL_BLOCK = 4
"""Blocks of at most this many queries list their n-grams in Python and gather matrix rows with numpy: less fixed
cost than numpy's n-gram code and scipy's row indexing, which win on larger blocks."""
