"""The loaded taxonomy: ESCO occupations and skills as arrays, the shape every later layer reads.

Rows are positions in ``occupation_uris`` / ``skill_uris``; they are stable for one cache build only, so store
URIs, never rows. Everything here is plain numpy / scipy.sparse / Python lists so it can be cached on disk as
``.npz`` + JSON (no pickle) and shared read-only between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class LabelTable:
    """Every surface form we know for a set of concepts (preferred, alternative, hidden, Danish, lexicon).

    ``concept[i]`` is the row of the concept that ``text[i]`` names; ``lang[i]`` an ISO 639-1 code;
    ``kind[i]`` one of ``preferred``, ``alt``, ``hidden``, ``lexicon``.
    """

    text: list[str]
    concept: np.ndarray  # int32, row into the concept arrays
    lang: list[str]
    kind: list[str]

    def __len__(self) -> int:
        return len(self.text)


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """ESCO occupations and skills, indexed.

    Attributes
    ----------
    occupation_uris, occupation_labels :
        URI and English preferred label per occupation row.
    occupation_labels_da :
        Danish preferred label per occupation row ("" where none is known).
    occupation_isco :
        int32 ISCO-08 unit-group code (4 digits, e.g. 5321) per occupation row; -1 where unknown.
        Minor group = code // 10, sub-major = code // 100.
    occupation_regulated :
        bool per occupation row: a regulated profession in Denmark (data/regulated_professions_dk.csv, plus
        ESCO's own regulatedProfessionNote). A gate until the citizen's qualification is recognised.
    skill_uris, skill_labels :
        URI and English preferred label per skill row.
    skill_is_language :
        bool per skill row: the skill is in ESCO's language-skills collection (scored by the language
        component, not the skills component).
    occ_essential, occ_optional :
        CSR float32 (n_occupations × n_skills), 1.0 where ESCO lists the skill for the occupation.
    skill_related :
        CSR float32 (n_skills × n_skills), symmetric, zero diagonal, values in (0, 1]: how much having the row
        skill counts towards the column skill — the elementwise max of ESCO's weighted relations (skill–skill
        relations, parent/child, small sibling groups) and, when the ``skill_similarity`` setting finds one, the
        fitted model's top-neighbour cosines (``extras["skill_similarity"]`` names it). Scoring multiplies it by
        the policy's ``related_skill_credit``.
    occupation_label_table, skill_label_table :
        all surface forms for normalisation.
    version :
        a hash of the input files and the build code; changes whenever the cache must be rebuilt.
    occupation_neighbours :
        CSR float32 (n_occupations × n_occupations): for a regulated occupation, the unregulated neighbour
        occupations its experience qualifies for while the papers are not recognised (nurse → home care aide,
        nurse assistant, …), from data/regulated_neighbours_dk.csv. None means no neighbour data.
    """

    occupation_uris: list[str]
    occupation_labels: list[str]
    occupation_labels_da: list[str]
    occupation_isco: np.ndarray
    occupation_regulated: np.ndarray
    skill_uris: list[str]
    skill_labels: list[str]
    skill_is_language: np.ndarray
    occ_essential: sp.csr_matrix
    occ_optional: sp.csr_matrix
    skill_related: sp.csr_matrix
    occupation_label_table: LabelTable
    skill_label_table: LabelTable
    version: str
    extras: dict[str, str] = field(default_factory=dict)
    occupation_neighbours: sp.csr_matrix | None = None

    @cached_property
    def occupation_row(self) -> dict[str, int]:
        """URI → occupation row."""
        return {uri: i for i, uri in enumerate(self.occupation_uris)}

    @cached_property
    def skill_row(self) -> dict[str, int]:
        """URI → skill row."""
        return {uri: i for i, uri in enumerate(self.skill_uris)}

    @property
    def n_occupations(self) -> int:
        return len(self.occupation_uris)

    @property
    def n_skills(self) -> int:
        return len(self.skill_uris)


def max_per_key(key: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (ascending) with the largest value given for each: how relation matrices keep the
    strongest of several reasons for one pair (max, not sum)."""
    order = np.lexsort((-value, key))
    key, value = key[order], value[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    return key[first], value[first]


def row_entries(matrix: sp.csr_matrix | sp.csc_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``rows``, position in ``matrix.indices``/``data``) of every stored entry of those rows (of
    those columns, for a CSC matrix), row by row in ``rows`` order."""
    starts = matrix.indptr[rows]
    counts = matrix.indptr[rows + 1] - starts
    which = np.repeat(np.arange(len(rows)), counts)
    pos = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
    return which, pos


def keep_top_k(related: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``related`` keeping the ``k`` strongest entries per row (ties: lower column first), as CSR float32.

    The scoring layer lends partial credit only to these (``related_skill_top_k``, on ``skill_related``); the
    similarity evaluation applies the same cut so that it measures what production serves.
    """
    rel = sp.csr_matrix(related, dtype=np.float32)
    n_rows, n_cols = rel.shape
    if k == 0 or rel.nnz == 0:
        empty = np.zeros(0, np.int64)
        return sp.csr_matrix((np.zeros(0, np.float32), (empty, empty)), shape=(n_rows, n_cols), dtype=np.float32)
    rows = np.repeat(np.arange(n_rows), np.diff(rel.indptr))
    order = np.lexsort((rel.indices, -rel.data, rows))
    rows, cols, vals = rows[order], rel.indices[order], rel.data[order]
    rank = np.arange(len(rows)) - rel.indptr[:-1][rows]
    keep = rank < k
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_rows, n_cols), dtype=np.float32)
