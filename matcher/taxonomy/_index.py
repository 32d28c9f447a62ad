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

import json
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


def _best(keys: np.ndarray, scores: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (keys, scores) at or above ``floor``, best first (ties by key order)."""
    # Selecting among the few keys above the floor is much cheaper than a partition of all ~100k.
    above = np.flatnonzero(scores >= floor)
    if len(above) > k:
        above = above[np.argpartition(-scores[above], k)[:k]]
    above = above[np.lexsort((keys[above], -scores[above]))]
    return keys[above], scores[above].astype(np.float32)


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
    def _gram_id(self) -> dict[int, int]:
        return dict(zip(self.vocabulary.tolist(), range(len(self.vocabulary)), strict=True))

    def _gather_dot(self, ids: np.ndarray, weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Dense key scores: sum over n-grams ``ids`` of weight × posting value (a hand-made sparse product)."""
        starts = self.postings.indptr[ids]
        shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        gather = shift + np.arange(int(lengths.sum()))
        return np.bincount(
            self.postings.indices[gather],
            weights=self.postings.data[gather] * np.repeat(weights, lengths),
            minlength=self.postings.shape[1],
        )

    def tfidf_top(self, folded: str, k: int, floor: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` keys with the highest cosine to ``folded`` (keys, cosines), best first, none below
        ``floor``; the query vector is built exactly as :func:`tfidf_fit` builds a label's.

        The sparse product is done by hand (gather the query n-grams' posting lists, ``bincount`` by key):
        for one short query scipy's fancy indexing costs more in overhead than the arithmetic.
        """
        gram_id = self._gram_id
        counts: dict[int, int] = {}
        for code in query_grams(folded):
            j = gram_id.get(code)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids = np.fromiter(counts.keys(), np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float64, count=len(counts)))
        weights = tf * self.idf[ids]
        weights /= np.linalg.norm(weights)
        indptr = self.postings.indptr
        lengths = indptr[ids + 1] - indptr[ids]
        rare = lengths <= COMMON_SHARE * self.matrix.shape[0]
        if rare.all() or not rare.any():
            scores = self._gather_dot(ids, weights, lengths)
        else:
            # Two stages: the rare n-grams (short posting lists) pick candidates; their exact cosines then come
            # from their own rows of the key × n-gram matrix. Gathering the common n-grams' posting lists
            # (thousands of keys each) would be ~90% of the work for keys that rarely make the top.
            partial = self._gather_dot(ids[rare], weights[rare], lengths[rare])
            candidates = np.flatnonzero(partial)
            if len(candidates) > RARE_CANDIDATES:
                candidates = candidates[np.argpartition(-partial[candidates], RARE_CANDIDATES)[:RARE_CANDIDATES]]
            query = np.zeros(self.matrix.shape[1])
            query[ids] = weights
            starts = self.matrix.indptr[candidates]
            row_lengths = self.matrix.indptr[candidates + 1] - starts
            gather = np.repeat(starts - (np.cumsum(row_lengths) - row_lengths), row_lengths) + np.arange(
                int(row_lengths.sum())
            )
            exact = np.bincount(
                np.repeat(np.arange(len(candidates)), row_lengths),
                weights=self.matrix.data[gather] * query[self.matrix.indices[gather]],
                minlength=len(candidates),
            )
            return _best(candidates, exact, k, floor)
        return _best(np.arange(len(scores)), scores, k, floor)


_GROUPS = ("labels", "compact", "stem")
COMMON_SHARE = 0.02
"""An n-gram in more than this share of the keys is "common": it does not pick candidates (see tfidf_top).
2 % keeps the hold-out accuracy of the full product (a fixed 800 cost English skills 1 point acc@1)."""
RARE_CANDIDATES = 200
