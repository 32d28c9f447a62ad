"""The rule-based scorer: each component is a short sequence of float32 array passes over the block.

Why this shape: scoring is the hot path (every citizen × every need each night). Everything that depends on one
side only is precomputed in the features; on the pair grid each component costs a handful of passes, there are
no float64 temporaries, and a component whose inputs are empty for the whole block is returned as a free
broadcast view instead of being computed. Formulas and defaults: docs/scoring.md.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.features import POPCOUNT8, CitizenFeatures, NeedFeatures
from matcher.scoring._base import COMPONENTS, Gate, ScoreBlock, Scorer
from matcher.taxonomy import Taxonomy
from matcher.taxonomy._model import row_entries

F32 = np.float32


def _const(value: float, shape: tuple[int, int]) -> np.ndarray:
    """A read-only (n_c, n_n) view of one value: costs no memory and no pass over the grid."""
    return np.broadcast_to(F32(value), shape)


DEDUP_MIN_COLUMNS = 16
"""Below this many columns on the other side of the grid, deduplicating rows costs more (a sort of the rows)
than it saves (a few passes over a thin grid): the interactive one-need query is the case that matters."""


def _distinct_rows(n_other: int, *columns: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Row positions of the distinct rows of the key ``columns`` (equal-length arrays, 1-D or 2-D, side by side)
    and, per row, which distinct row it is; ``(None, None)`` when every row is taken as its own (see
    :func:`_at`).

    Why: most per-citizen inputs take few distinct values within a block (a few postcodes, hours ranges and
    language levels), so a component is computed on those rows only and gathered out with one contiguous
    row copy, instead of several passes over the whole grid. ``n_other`` is the size of the grid's other
    dimension; when it is small every row is taken as distinct (same values, no sort, and the key columns are
    not even put side by side: against one need that was most of a component's cost).
    """
    if n_other < DEDUP_MIN_COLUMNS or len(columns[0]) <= 1:
        return None, None
    return _group_rows(*columns)


def _group_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct key row, per row its group) of the key ``columns`` side by side."""
    n = len(columns[0])
    keys = columns[0] if len(columns) == 1 else np.column_stack(columns)
    keys = np.ascontiguousarray(keys.reshape(n, -1))
    # one opaque byte string per row: np.unique on those is ~6× faster than np.unique(axis=0)
    rows = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first, inverse.ravel()


TABLE_GROUPS_MIN_ROWS = 256
"""A one-need block of at least this many citizen rows takes a component's distinct rows from the whole feature
table's grouping (see :func:`_table_groups`) when the table has at most half as many groups as the block rows."""

_GROUPS: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
_KEPT_LOCK = threading.Lock()

K = TypeVar("K")
V = TypeVar("V")


def _kept_for(owner: object, name: K, cache: dict[tuple[int, K], V], make: Callable[[], V]) -> V:
    """``make()``, worked out once per ``owner`` object and ``name`` and kept in ``cache`` until the owner is
    garbage-collected. For values derived from feature tables and matrices, which are never modified in place
    (an update builds new ones), so what is kept stays valid for their life. Two threads may both make it; the
    first one kept wins."""
    key = (id(owner), name)
    found = cache.get(key)
    if found is None:
        made = make()
        with _KEPT_LOCK:
            if key not in cache:
                cache[key] = made
                weakref.finalize(owner, cache.pop, key, None)
            found = cache[key]
    return found


def _table_groups(table: object, name: str, *columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a feature table's key ``columns`` over all its rows: (first row of each group, group
    of each row), worked out once per table object and component ``name`` and dropped with the table (feature
    tables are never modified in place, so the grouping stays valid for their life).

    Why: against one need, a component computed row by row makes a dozen passes over the block's ~10k rows,
    while the citizens take far fewer distinct values of its inputs (a few hundred hours ranges and school days,
    ~1,500 places and commutes at 10k citizens). Computed on one row per group and gathered out by
    ``groups[c_rows]``, it costs two gathers; the values are the same, each group's row holding the same inputs.
    Per block (:func:`_distinct_rows`) the grouping would cost a sort of the block's rows on every query.
    """
    def group() -> tuple[np.ndarray, np.ndarray]:
        first, inverse = _group_rows(*columns)
        return first, inverse.astype(np.intp)

    return _kept_for(table, name, _GROUPS, group)


def _block_groups(
    table: object, name: str, c_rows: np.ndarray, n_other: int, *columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """For a component over the table's rows ``c_rows`` × ``n_other`` needs, keyed by the table's ``columns``:
    (table rows to compute it on, per block row the position of its row among them; None: ``c_rows`` itself,
    one each). From the whole table's grouping (:func:`_table_groups`) against a few needs when the table has
    few groups, else from the block's own (:func:`_distinct_rows`)."""
    if n_other < DEDUP_MIN_COLUMNS and len(c_rows) >= TABLE_GROUPS_MIN_ROWS:
        first, groups = _table_groups(table, name, *columns)
        if 2 * len(first) <= len(c_rows):
            return first, groups[c_rows]
    block_first, inv = _distinct_rows(n_other, *(column[c_rows] for column in columns))
    return (c_rows if block_first is None else c_rows[block_first]), inv


def _at(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """``values[rows]``, or ``values`` itself for ``rows`` None (every row its own: no copy, no gather)."""
    if rows is None:
        return values
    if values.ndim == 2 and values.shape[1] == 1:  # one need: a 1-D gather is ~2× faster than a 2-D one
        return values.ravel()[rows].reshape(-1, 1)
    return values[rows]


def _columns_at(values: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """``values[:, cols]`` (as :func:`_at`, for columns)."""
    return values if cols is None else np.take(values, cols, axis=1)


def _take_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``matrix[rows]``, without the copy when ``rows`` is every row in order (the interactive query over all
    citizens, where the copy costs more than the product that follows)."""
    n = matrix.shape[0]
    if len(rows) == n and (n == 0 or (rows[0] == 0 and rows[-1] == n - 1 and bool(np.all(np.diff(rows) == 1)))):
        return matrix
    return matrix[rows]


NARROW_PRODUCT_COLUMNS = 8
"""A product with at most this many columns, over a good share of the citizen rows, is computed by
:func:`_narrow_times` (an interactive query: one need, a few languages or occupations)."""

Columns = list[tuple[np.ndarray, np.ndarray]]
"""The right-hand side of a narrow product, column by column: (codes, weights) of its stored entries."""

_COLUMNS: dict[tuple[int, str], sp.csc_matrix] = {}


def _columns_of(matrix: sp.csr_matrix) -> sp.csc_matrix:
    """A CSC copy of ``matrix`` (sorted indices), made once per matrix object and dropped with it (see
    :func:`_kept_for`)."""

    def columns() -> sp.csc_matrix:
        found = matrix.tocsc()
        found.sort_indices()
        return found

    return _kept_for(matrix, "csc", _COLUMNS, columns)


def _is_narrow(n_columns: int, rows: np.ndarray, matrix: sp.csr_matrix) -> bool:
    return n_columns <= NARROW_PRODUCT_COLUMNS and len(rows) * 8 >= matrix.shape[0]


def _row_columns(matrix: sp.csr_matrix, rows: np.ndarray) -> Columns:
    """Rows of a need-side CSR matrix as the columns of a product's right-hand side (its transpose)."""
    ip, ix, data = matrix.indptr, matrix.indices, matrix.data
    return [(ix[ip[r] : ip[r + 1]], data[ip[r] : ip[r + 1]]) for r in rows.tolist()]


_NO_CODES = np.zeros(0, np.int64)
_ONE = np.ones(1, F32)


def _one_hot_columns(cols: np.ndarray) -> Columns:
    """One column per code: a 1 at ``cols[j]``, nothing where ``cols[j] < 0`` (as :func:`_one_hot`)."""
    return [(np.array([c]), _ONE) if c >= 0 else (_NO_CODES, _ONE[:0]) for c in cols.tolist()]


def _narrow_times(matrix: sp.csr_matrix, rows: np.ndarray, columns: Columns) -> np.ndarray:
    """Dense float32 ``matrix[rows] @ W`` for a narrow ``W`` given by its columns.

    Reads only the columns of ``matrix`` that ``W`` has entries for (from a cached CSC copy), over all rows, and
    gathers the block's rows from the result: scipy's per-call overheads (slicing CSR rows, densifying ``W``, a
    pass over every stored entry) cost more than the arithmetic here. Values are identical to
    :func:`_rows_times`: each output entry is summed in float32 in ascending order of the shared code (as CSR
    row sums, CSC sweeps and sparse × sparse products all do; ``np.add.at`` adds in index order), and the codes
    left out only ever add exact zeros.
    """
    csc = _columns_of(matrix)
    out = np.zeros((matrix.shape[0], len(columns)), dtype=matrix.dtype)
    for j, (codes, weights) in enumerate(columns):
        if len(codes) == 0:
            continue
        if len(codes) == 1:  # one code (a one-hot column): each row gets at most one term, 0 + term = term
            lo, hi = csc.indptr[codes[0]], csc.indptr[codes[0] + 1]
            out[csc.indices[lo:hi], j] = csc.data[lo:hi] * weights.astype(matrix.dtype)[0]
            continue
        if bool(np.any(codes[1:] < codes[:-1])):
            order = np.argsort(codes, kind="stable")
            codes, weights = codes[order], weights[order]
        which, pos = row_entries(csc, codes)
        np.add.at(out[:, j], csc.indices[pos], csc.data[pos] * weights.astype(matrix.dtype)[which])
    return np.asarray(_at(out, rows), dtype=F32)


def _rows_times(matrix: sp.csr_matrix, rows: np.ndarray, right: sp.csr_matrix | sp.csc_matrix) -> np.ndarray:
    """Dense float32 ``matrix[rows] @ right`` (a block's worth of needs: see :func:`_narrow_times` for a few)."""
    return np.asarray((_take_rows(matrix, rows) @ right).toarray(), dtype=F32)


def _dense_rows(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Dense ``matrix[rows][:, cols]`` (``cols`` sorted, unique) read straight off the CSR arrays: for the
    narrow per-need language tables, where scipy's two slicings and a densify cost ~100 µs each."""
    which, pos = row_entries(matrix, rows)
    out = np.zeros((len(rows), len(cols)), dtype=matrix.dtype)
    stored = matrix.indices[pos]
    col = np.minimum(np.searchsorted(cols, stored), max(len(cols) - 1, 0))
    hit = cols[col] == stored if len(cols) else np.zeros(len(pos), bool)
    out[which[hit], col[hit]] = matrix.data[pos[hit]]
    return out


def _one_hot_times(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Dense float32 ``matrix[rows][:, cols]``, 0 where ``cols[j] < 0``: the product with a one-hot
    right-hand side, narrow (:func:`_narrow_times`) or wide (:func:`_rows_times` with :func:`_one_hot`)."""
    if _is_narrow(len(cols), rows, matrix):
        return _narrow_times(matrix, rows, _one_hot_columns(cols))
    return _rows_times(matrix, rows, _one_hot(cols, matrix.shape[1]))


def _one_hot(cols: np.ndarray, n_codes: int) -> sp.csc_matrix:
    """(n_codes × len(cols)) with a 1 at (cols[j], j) for every cols[j] ≥ 0. Built straight in CSC form (one
    entry per column, already in order): the COO route costs ~1 ms of scipy checks per call."""
    valid = cols >= 0
    indptr = np.zeros(len(cols) + 1, dtype=np.int32)
    np.cumsum(valid, out=indptr[1:])
    indices = cols[valid].astype(np.int32)
    return sp.csc_matrix((np.ones(len(indices), F32), indices, indptr), shape=(n_codes, len(cols)))


class RuleScorer(Scorer):
    """Hand-written component rules, weights and gates from a :class:`ScoringPolicy`.

    Parameters
    ----------
    policy : the weights, gate switches and constants.
    taxonomy : the taxonomy the features were built with (its version is checked against the features').
    """

    def __init__(self, policy: ScoringPolicy, taxonomy: Taxonomy) -> None:
        self.policy = policy
        self.taxonomy = taxonomy

    def bytes_per_pair(self) -> int:
        # total + 7 components + overqualification + ~4 float32 temporaries + gates.
        return 4 * (len(COMPONENTS) + 6) + 2

    def score_block(
        self,
        citizens: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
    ) -> ScoreBlock:
        version = self.taxonomy.version
        if citizens.taxonomy_version != version or needs.taxonomy_version != version:
            raise ValueError(
                f"features were built with taxonomy {citizens.taxonomy_version!r} / {needs.taxonomy_version!r} "
                f"but the scorer has {version!r}; rebuild the features"
            )
        c_rows = np.asarray(c_rows, dtype=np.int64)
        n_rows = np.asarray(n_rows, dtype=np.int64)
        shape = (len(c_rows), len(n_rows))
        gates = np.zeros(shape, np.uint16)
        p = self.policy
        on = p.gates

        components = {
            "skills": self._skills(citizens, c_rows, needs, n_rows, shape),
            "experience": self._experience(citizens, c_rows, needs, n_rows, shape),
            "qualification": self._qualification(citizens, c_rows, needs, n_rows, shape, gates),
            "language": self._language(citizens, c_rows, needs, n_rows, shape, gates),
            "schedule": self._schedule(citizens, c_rows, needs, n_rows, shape, gates),
            "geography": self._geography(citizens, c_rows, needs, n_rows, shape, gates),
            "availability": self._availability(citizens, c_rows, needs, n_rows, shape),
        }
        if on.driving_licence:
            self._licence_gate(citizens, c_rows, needs, n_rows, gates)
        if on.expired:
            gone = np.flatnonzero(needs.expires_day[n_rows] < needs.today_day)
            if len(gone):
                gates[:, gone] |= np.uint16(Gate.EXPIRED)
        if on.capacity:
            full = np.flatnonzero(needs.positions[n_rows] <= 0)
            if len(full):
                gates[:, full] |= np.uint16(Gate.CAPACITY)

        total = self._weighted_total(components, shape)
        np.multiply(total, gates == 0, out=total)  # ~10× faster than total[gates != 0] = 0
        components["overqualification"] = self._overqualification(citizens, c_rows, needs, n_rows, shape)
        return ScoreBlock(total=total, components=components, gates=gates)

    def can_pass_commute(
        self, citizens: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray
    ) -> bool:
        """False only when the commute gate is on and *every* pair of the block is beyond the citizen's max
        commute, so every total would be 0: a ranking layer can skip such blocks without scoring them.

        Cheap (bounding boxes of the planar coordinates, O(n_c + n_n)) and safe: it never returns False for a
        block that has a pair within reach (it may return True for a block that has none). Citizens or needs
        with unknown coordinates are never commute-gated, so their presence makes it True.
        """
        if not self.policy.gates.commute or len(c_rows) == 0 or len(n_rows) == 0:
            return True
        c_known = citizens.geo_known[c_rows]
        n_known = needs.geo_known[n_rows]
        if not c_known.all() or not n_known.all():
            return True
        cx, cy = citizens.geo_x[c_rows], citizens.geo_y[c_rows]
        nx, ny = needs.geo_x[n_rows], needs.geo_y[n_rows]
        gap_x = max(0.0, float(nx.min() - cx.max()), float(cx.min() - nx.max()))
        gap_y = max(0.0, float(ny.min() - cy.max()), float(cy.min() - ny.max()))
        reach = float(citizens.max_commute_km[c_rows].max())
        # the float32 pair distance may round a hair below the box gap: keep a 1 m margin
        return gap_x * gap_x + gap_y * gap_y <= (reach + 0.001) ** 2

    def _weighted_total(self, components: dict[str, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
        """Σ wₖ·componentₖ / Σ wₖ, added in COMPONENTS order whatever the block (bit-identical results for any
        block split). A constant (broadcast) component costs one scalar add instead of a multiply and an add."""
        weights = vars(self.policy.weights)  # read only: the fields without model_dump's copy (~30 µs a block)
        wsum = sum(weights[name] for name in COMPONENTS)
        total: np.ndarray | None = None
        tmp: np.ndarray | None = None
        for name in COMPONENTS:
            if wsum <= 0 or weights[name] == 0:
                continue
            w = F32(weights[name] / wsum)
            comp = components[name]
            if comp.size and comp.strides == (0, 0):
                term = F32(comp.flat[0]) * w
                if total is None:
                    total = np.full(shape, term, dtype=F32)
                else:
                    total += term
            elif total is None:
                total = np.multiply(comp, w, dtype=F32)
            else:
                tmp = np.multiply(comp, w, out=tmp) if tmp is not None else np.multiply(comp, w, dtype=F32)
                total += tmp
        if total is None:
            return np.zeros(shape, F32)
        np.clip(total, 0.0, 1.0, out=total)
        return total

    # ------------------------------------------------------------------------------------------- components

    def _skills(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """Weighted coverage: citizen skill weights · the need's skill vector, clipped at 1 (one sparse product)."""
        if _is_narrow(len(n_rows), c_rows, cit.skills):
            columns = _row_columns(needs.skill_vector, n_rows)
            if cit.skills.nnz == 0 or not any(len(codes) for codes, _ in columns):
                return _const(0.0, shape)
            out = _narrow_times(cit.skills, c_rows, columns)
        else:
            vector = needs.skill_vector[n_rows]
            if vector.nnz == 0 or cit.skills.nnz == 0:
                return _const(0.0, shape)
            out = _rows_times(cit.skills, c_rows, vector.T)
        np.minimum(out, F32(1.0), out=out)
        return out

    def _experience(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """Best past occupation: same concept 1 > same ISCO unit group > same minor group, × years factor.

        Computed for the block's distinct need occupations (a few dozen), then gathered out to the columns.
        """
        occ_all = needs.occupation[n_rows]
        if len(occ_all) == 1:  # one need (an interactive query): np.unique alone cost more than the rest
            uniq, inv = occ_all, np.zeros(1, np.intp)
        else:
            uniq, inv = np.unique(occ_all, return_inverse=True)
        if len(uniq) == 0 or uniq[-1] < 0:
            return _const(0.0, shape)
        isco = np.where(uniq >= 0, self.taxonomy.occupation_isco[np.maximum(uniq, 0)], -1)
        p = self.policy
        levels = (
            (cit.occ_exp, uniq, 1.0),
            (cit.isco_unit_exp, isco, p.experience_same_unit_group),
            (cit.isco_minor_exp, np.where(isco >= 0, isco // 10, -1), p.experience_same_minor_group),
        )
        table: np.ndarray | None = None
        for matrix, cols, credit in levels:
            if credit <= 0:
                continue
            if matrix.nnz == 0:
                continue
            hits = _one_hot_times(matrix, c_rows, cols)
            if credit != 1.0:
                hits *= F32(credit)
            table = hits if table is None else np.maximum(table, hits, out=table)
        if table is None or not table.any():
            return _const(0.0, shape)
        np.minimum(table, F32(1.0), out=table)
        if len(occ_all) == 1:
            return table  # one need: its one column already
        return np.take(table, inv.ravel(), axis=1)

    def _qualification(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        shape: tuple[int, int],
        gates: np.ndarray,
    ) -> np.ndarray:
        """Level fit (precomputed per citizen and EQF level) gathered by the need's level; regulated gate."""
        on = self.policy.gates
        if on.regulated_profession:
            regulated = needs.regulated[n_rows]
            if regulated.any():
                self._regulated_gate(cit, c_rows, needs, n_rows, regulated, gates)
        if on.min_eqf_level:
            asked = np.flatnonzero(needs.min_eqf[n_rows] > 0)
            if len(asked):
                below = cit.best_eqf[c_rows][:, None] < needs.min_eqf[n_rows[asked]][None, :]
                gates[:, asked] |= np.where(below, np.uint16(Gate.MIN_EQF_LEVEL), np.uint16(0))
        level = needs.level[n_rows].astype(np.intp)
        if not np.any(level):
            return _const(1.0, shape)
        if shape[1] < DEDUP_MIN_COLUMNS:  # a few needs: one gather of (citizen, level) cells
            table = cit.qual_fit
            return np.take(table.ravel(), (c_rows * table.shape[1])[:, None] + level[None, :])
        fit = cit.qual_fit[c_rows]
        first, inv = _distinct_rows(shape[1], fit)
        return _at(np.take(_at(fit, first), level, axis=1), inv)

    def _overqualification(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """(citizen's best EQF − need's level) / overqualification_levels, clipped to [0, 1]; 0 where no level."""
        level = needs.level[n_rows]
        best = cit.best_eqf[c_rows]
        if not np.any(level) or not np.any(best):
            return _const(0.0, shape)
        inv = F32(1.0 / self.policy.overqualification_levels)
        # best_eqf takes 9 values: one row per value, gathered out to the citizens
        table = np.subtract.outer(np.arange(9, dtype=F32) * inv, level.astype(F32) * inv)
        table[:, level == 0] = 0.0
        np.clip(table, 0.0, 1.0, out=table)
        return table[best.astype(np.intp)]

    def _language(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        shape: tuple[int, int],
        gates: np.ndarray,
    ) -> np.ndarray:
        """Min over required languages of 1 − gap × penalty (gap in CEFR steps); a hard gap is a gate.

        Computed once per distinct combination of the citizens' levels in the asked languages (a handful),
        then gathered out to the citizens.
        """
        lang_req = needs.lang_req
        if len(n_rows) == 1:  # one need: its CSR row is already sorted and distinct
            langs = lang_req.indices[lang_req.indptr[n_rows[0]] : lang_req.indptr[n_rows[0] + 1]]
        else:
            langs = np.unique(lang_req.indices[row_entries(lang_req, n_rows)[1]])
        if len(langs) == 0:
            return _const(1.0, shape)
        asked = _dense_rows(lang_req, n_rows, langs).astype(F32)  # (n_n, L)
        hard = _dense_rows(needs.lang_hard, n_rows, langs) > 0
        have = _one_hot_times(cit.languages, c_rows, langs)  # (n_c, L)
        first, inv = _distinct_rows(shape[1], have)
        reps = _at(have, first)
        penalty = needs.lang_penalty[n_rows][None, :]
        gate_on = self.policy.gates.language and bool(hard.any())
        fit = np.ones((len(reps), shape[1]), F32)
        gate = np.zeros((len(reps), shape[1]), bool)
        for k in range(len(langs)):
            gap = np.subtract.outer(-reps[:, k], -asked[:, k])  # asked − have, ≤ 0 where met or not asked
            if gate_on:
                gate |= (gap > 0) & hard[None, :, k]
            gap *= penalty
            np.clip(gap, 0.0, 1.0, out=gap)
            np.minimum(fit, F32(1.0) - gap, out=fit)
        if gate_on and gate.any():
            gates |= _at(np.where(gate, np.uint16(Gate.LANGUAGE), np.uint16(0)), inv)
        return _at(fit, inv)

    def _schedule(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        shape: tuple[int, int],
        gates: np.ndarray,
    ) -> np.ndarray:
        """School days vs working days × weekly hours vs the citizen's range.

        Days: the need takes ``days_needed`` of its weekdays (hours / hours_per_day, rounded up); school days
        on its weekdays leave ``n_days − clash`` free; a shortfall costs its share of the days needed. Hours:
        1 − (hours outside the range) / hours_penalty_hours; beyond ``hours_tolerance`` the HOURS gate.
        Computed once per distinct (hours range, school days) of the block's citizens, then gathered.
        """
        p = self.policy
        hours = needs.hours[n_rows]
        stated = ~np.isnan(hours)
        reps, inv = _block_groups(cit, "schedule", c_rows, shape[1], cit.hours_min, cit.hours_max, cit.school_days)
        reps_school = cit.school_days[reps]
        if not stated.any() and not reps_school.any():
            return _const(1.0, shape)
        hmin, hmax = cit.hours_min[reps], cit.hours_max[reps]
        fit = np.ones((len(hmin), shape[1]), F32)
        gate = np.zeros((len(hmin), shape[1]), np.uint16)
        if stated.any():
            h = np.where(stated, hours, F32(0.0))
            over = np.subtract.outer(-hmax, -h)  # h − max
            np.maximum(over, np.subtract.outer(hmin, h), out=over)  # or min − h
            np.maximum(over, F32(0.0), out=over)
            over[:, ~stated] = 0.0
            if p.gates.hours:
                gate |= np.where(over > F32(p.hours_tolerance), np.uint16(Gate.HOURS), np.uint16(0))
            over *= F32(1.0 / p.hours_penalty_hours)
            np.clip(over, 0.0, 1.0, out=over)
            np.subtract(F32(1.0), over, out=fit)
        if reps_school.any():
            clash = POPCOUNT8[np.bitwise_and.outer(reps_school, needs.weekdays[n_rows])]
            free = needs.n_days[n_rows][None, :] - clash
            needed = needs.days_needed[n_rows]
            short = np.maximum(needed[None, :] - free, 0).astype(F32)
            if p.gates.schedule_clash:
                gate |= np.where(short > 0, np.uint16(Gate.SCHEDULE_CLASH), np.uint16(0))
            fit *= F32(1.0) - short / np.maximum(needed, 1).astype(F32)[None, :]
        if gate.any():
            gates |= _at(gate, inv)
        return _at(fit, inv)

    def _geography(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        shape: tuple[int, int],
        gates: np.ndarray,
    ) -> np.ndarray:
        """1 / (1 + (d / half)²) with half = commute_half_score_fraction × max commute; beyond max the gate.

        Distances are planar (features project to km), so the grid needs only differences and squares.
        Citizens (and workplaces) that share a postcode and max commute share a row (column): computed once,
        gathered out. Unknown coordinates on either side: ``unknown_location_score`` and no gate.
        """
        p = self.policy
        n_known = needs.geo_known[n_rows]
        if not n_known.any():
            return _const(p.unknown_location_score, shape)
        reps, ic = _block_groups(
            cit, "geography", c_rows, shape[1], cit.geo_x, cit.geo_y, cit.max_commute_km, cit.geo_known
        )
        c_known = cit.geo_known[reps]
        if not c_known.any():
            return _const(p.unknown_location_score, shape)
        cx, cy = cit.geo_x[reps], cit.geo_y[reps]
        reps_max = cit.max_commute_km[reps].astype(F32)
        nx, ny = needs.geo_x[n_rows], needs.geo_y[n_rows]
        fn, in_ = _distinct_rows(shape[0], nx, ny, n_known)
        d2 = np.subtract.outer(cx, _at(nx, fn))
        d2 *= d2
        dy = np.subtract.outer(cy, _at(ny, fn))
        dy *= dy
        d2 += dy
        unknown_c, unknown_n = ~c_known, ~_at(n_known, fn)
        if p.gates.commute:
            beyond = d2 > (reps_max * reps_max)[:, None]
            beyond[unknown_c] = False
            beyond[:, unknown_n] = False
            if beyond.any():
                gate = np.where(beyond, np.uint16(Gate.COMMUTE), np.uint16(0))
                gates |= _at(_columns_at(gate, in_), ic)
        half = reps_max * F32(p.commute_half_score_fraction)
        d2 *= (F32(1.0) / (half * half))[:, None]
        d2 += F32(1.0)
        np.reciprocal(d2, out=d2)
        d2[unknown_c] = F32(p.unknown_location_score)
        d2[:, unknown_n] = F32(p.unknown_location_score)
        return _at(_columns_at(d2, in_), ic)

    def _availability(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """1 − (days the need waits for the citizen) / availability_horizon_days, clipped to [0, 1]."""
        avail = cit.available_day[c_rows]
        start = needs.start_day[n_rows]
        if len(avail) == 0 or len(start) == 0 or avail.max() <= start.min():
            return _const(1.0, shape)
        # one row per distinct day, gathered out; against a few needs the sort costs more than it saves
        days, inv = (avail, None) if shape[1] < DEDUP_MIN_COLUMNS else np.unique(avail, return_inverse=True)
        # Day numbers (~20,000) are exact in float32, so the difference is exact and block-independent.
        wait = np.subtract.outer(days.astype(F32), start.astype(F32))
        wait *= F32(1.0 / self.policy.availability_horizon_days)
        np.clip(wait, 0.0, 1.0, out=wait)
        np.subtract(F32(1.0), wait, out=wait)
        return wait if inv is None else wait[inv.ravel()]

    def _regulated_gate(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        regulated: np.ndarray,
        gates: np.ndarray,
    ) -> None:
        """Regulated need × citizen without a recognised qualification for its occupation or ISCO unit group.

        A few needs (an interactive query): a mask of the citizens holding one of each regulated need's codes.
        A block of many needs: most citizens hold no authorisation at all and share one gate row; each authorised
        citizen gets its own row (a sparse product decides which regulated needs it lifts); one row gather ORs
        them into the block. Both give the same gates (the scorer contract's block-split test holds them to it).
        """
        if len(n_rows) <= NARROW_PRODUCT_COLUMNS:
            # an interactive query: per regulated need, the citizens holding one of its two codes (occupation,
            # ISCO unit group) read off the cached CSC copy into a mask: no COO-built matrix, no slice of the
            # holders' rows, no product (~0.6 ms of scipy per regulated need)
            csc = _columns_of(cit.authorised)
            n_occ = self.taxonomy.n_occupations
            blocked = np.uint16(Gate.REGULATED_PROFESSION)
            for j in np.flatnonzero(regulated).tolist():
                lifted = np.zeros(csc.shape[0], bool)
                isco = int(needs.isco[n_rows[j]])
                for code in (int(needs.occupation[n_rows[j]]), n_occ + isco if isco >= 0 else -1):
                    if code >= 0:
                        lo, hi = csc.indptr[code], csc.indptr[code + 1]
                        lifted[csc.indices[lo:hi][csc.data[lo:hi] > 0]] = True
                gates[:, j] |= np.where(lifted[c_rows], np.uint16(0), blocked)
            return
        # only the few citizens holding an authorisation need their rows sliced out
        holders = np.flatnonzero(np.diff(cit.authorised.indptr)[c_rows] > 0)
        table = np.zeros((1 + len(holders), len(n_rows)), np.uint16)
        table[:, regulated] = np.uint16(Gate.REGULATED_PROFESSION)
        if len(holders):
            reg = np.flatnonzero(regulated)
            isco = needs.isco[n_rows[reg]]
            occ = needs.occupation[n_rows[reg]].astype(np.int64)
            rows = np.concatenate([occ, np.where(isco >= 0, self.taxonomy.n_occupations + isco, -1)])
            cols = np.concatenate([np.arange(len(reg)), np.arange(len(reg))])
            keep = rows >= 0
            need_codes = sp.csr_matrix(
                (np.ones(int(keep.sum()), F32), (rows[keep], cols[keep])), shape=(cit.authorised.shape[1], len(reg))
            )
            lifted = (cit.authorised[c_rows[holders]] @ need_codes).toarray() > 0
            table[1:, reg] = np.where(lifted, np.uint16(0), np.uint16(Gate.REGULATED_PROFESSION))
        which = np.zeros(len(c_rows), np.intp)
        which[holders] = np.arange(1, len(holders) + 1)
        gates |= table[which]

    def _licence_gate(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, gates: np.ndarray
    ) -> None:
        required = needs.licences[n_rows]
        if not required.any():
            return
        first, inv = _distinct_rows(len(n_rows), cit.licences[c_rows])
        held = _at(cit.licences[c_rows], first)
        missing = np.bitwise_and.outer(~held, required) != 0
        if missing.any():
            gates |= _at(np.where(missing, np.uint16(Gate.DRIVING_LICENCE), np.uint16(0)), inv)
