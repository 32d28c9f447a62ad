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
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher.taxonomy._model import LabelTable
from matcher.taxonomy._text import compact, fold, stem_key

NGRAMS = (2, 4)


def _vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, dtype=np.float32, vocabulary=vocabulary
    )


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
    ``stem`` map the space-free and stemmed forms of the keys to key ids. ``postings`` is the TF-IDF matrix
    transposed (n-gram × key, CSR), so a query touches only the rows of its own n-grams.
    """

    labels: StringGroups
    compact: StringGroups
    stem: StringGroups
    vocabulary: list[str]
    idf: np.ndarray
    postings: sp.csr_matrix

    @property
    def keys(self) -> list[str]:
        return self.labels.strings

    # ----------------------------------------------------------------------------------------- building

    @classmethod
    def build(cls, table: LabelTable) -> LabelIndex:
        labels = StringGroups.build([fold(t) for t in table.text])
        keys = labels.strings
        vectorizer = _vectorizer()
        matrix = vectorizer.fit_transform(keys)
        vocab = [""] * len(vectorizer.vocabulary_)
        for gram, j in vectorizer.vocabulary_.items():
            vocab[j] = gram
        return cls(
            labels=labels,
            compact=StringGroups.build([compact(k) for k in keys]),
            stem=StringGroups.build([stem_key(k) for k in keys]),
            vocabulary=vocab,
            idf=vectorizer.idf_.astype(np.float32),
            postings=sp.csr_matrix(matrix.T.astype(np.float32)),
        )

    def save(self, folder: Path, name: str) -> None:
        arrays: dict[str, np.ndarray] = {"idf": self.idf}
        strings: dict[str, list[str]] = {"vocabulary": self.vocabulary}
        for part in _GROUPS:
            groups: StringGroups = getattr(self, part)
            arrays[f"{part}_ptr"], arrays[f"{part}_members"] = groups.ptr, groups.members
            strings[part] = groups.strings
        np.savez(folder / f"{name}.npz", **arrays)  # type: ignore[arg-type]
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
            vocabulary=strings["vocabulary"],
            idf=arrays["idf"],
            postings=sp.csr_matrix(sp.load_npz(folder / f"{name}_postings.npz")),
        )

    # ----------------------------------------------------------------------------------------- lookups

    @cached_property
    def _gram_id(self) -> dict[str, int]:
        return dict(zip(self.vocabulary, range(len(self.vocabulary)), strict=True))

    @cached_property
    def _analyzer(self) -> Callable[[str], list[str]]:
        analyzer: Callable[[str], list[str]] = _vectorizer().build_analyzer()
        return analyzer

    def tfidf_top(self, folded: str, k: int, floor: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` keys with the highest cosine to ``folded`` (keys, cosines), best first, none below
        ``floor``. Same maths as the fitted TfidfVectorizer (sublinear tf × idf, L2-normalised) without its
        per-call overhead."""
        gram_id = self._gram_id
        counts: dict[int, int] = {}
        for gram in self._analyzer(folded):
            j = gram_id.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids = np.fromiter(counts, np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), np.float32, count=len(counts)))
        weights = tf * self.idf[ids]
        weights /= np.linalg.norm(weights)
        scores = self.postings[ids].T @ weights
        # Selecting among the few keys above the floor is much cheaper than a partition of all ~100k.
        top = np.flatnonzero(scores >= floor)
        if len(top) > k:
            top = top[np.argpartition(-scores[top], k)[:k]]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top].astype(np.float32)


_GROUPS = ("labels", "compact", "stem")
