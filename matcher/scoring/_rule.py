"""The rule-based scorer: each component is a short sequence of float32 array passes over the block.

Why this shape: scoring is the hot path (every citizen × every need each night). Everything that depends on one
side only is precomputed in the features; on the pair grid each component costs a handful of passes, there are
no float64 temporaries, and a component whose inputs are empty for the whole block is returned as a free
broadcast view instead of being computed. Formulas and defaults: docs/scoring.md.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.features import POPCOUNT8, CitizenFeatures, NeedFeatures
from matcher.scoring._base import COMPONENTS, Gate, ScoreBlock, Scorer
from matcher.taxonomy import Taxonomy

F32 = np.float32


def _const(value: float, shape: tuple[int, int]) -> np.ndarray:
    """A read-only (n_c, n_n) view of one value: costs no memory and no pass over the grid."""
    return np.broadcast_to(F32(value), shape)


def _one_hot(cols: np.ndarray, n_codes: int) -> sp.csr_matrix:
    """(n_codes × len(cols)) with a 1 at (cols[j], j) for every cols[j] ≥ 0."""
    j = np.flatnonzero(cols >= 0)
    return sp.csr_matrix((np.ones(len(j), F32), (cols[j].astype(np.int64), j)), shape=(n_codes, len(cols)), dtype=F32)


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

        weights = p.weights.model_dump()
        wsum = sum(weights[name] for name in COMPONENTS)
        total = np.zeros(shape, F32)
        if wsum > 0:
            for name in COMPONENTS:
                w = weights[name]
                if w > 0:
                    total += F32(w / wsum) * components[name]
        np.clip(total, 0.0, 1.0, out=total)
        total[gates != 0] = 0.0
        components["overqualification"] = self._overqualification(citizens, c_rows, needs, n_rows, shape)
        return ScoreBlock(total=total, components=components, gates=gates)

    # ------------------------------------------------------------------------------------------- components

    def _skills(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """Weighted coverage: citizen skill weights · the need's skill vector, clipped at 1 (one sparse product)."""
        skills_c = cit.skills[c_rows]
        vector = needs.skill_vector[n_rows]
        if skills_c.nnz == 0 or vector.nnz == 0:
            return _const(0.0, shape)
        out = np.asarray((skills_c @ vector.T).toarray(), dtype=F32)
        np.minimum(out, F32(1.0), out=out)
        return out

    def _experience(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """Best past occupation: same concept 1 > same ISCO unit group > same minor group, × years factor.

        The three sparse products only produce the pairs that share a code, so the dense grid is written once
        (zeros) plus one scatter per level.
        """
        occ = needs.occupation[n_rows]
        isco = needs.isco[n_rows]
        p = self.policy
        levels = (
            (cit.isco_minor_exp, np.where(isco >= 0, isco // 10, -1), p.experience_same_minor_group),
            (cit.isco_unit_exp, isco, p.experience_same_unit_group),
            (cit.occ_exp, occ, 1.0),
        )
        out: np.ndarray | None = None
        for matrix, cols, credit in levels:
            if credit <= 0 or not np.any(cols >= 0):
                continue
            sub = matrix[c_rows]
            if sub.nnz == 0:
                continue
            hits = (sub @ _one_hot(cols, matrix.shape[1])).tocoo()
            if hits.nnz == 0:
                continue
            if out is None:
                out = np.zeros(shape, F32)
            vals = hits.data.astype(F32) * F32(credit)
            out[hits.row, hits.col] = np.maximum(out[hits.row, hits.col], vals)
        if out is None:
            return _const(0.0, shape)
        np.minimum(out, F32(1.0), out=out)
        return out

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
            reg = np.flatnonzero(needs.regulated[n_rows])
            if len(reg):
                n_occ = self.taxonomy.n_occupations
                codes = np.zeros((len(reg), 2), np.int64)
                codes[:, 0] = needs.occupation[n_rows[reg]]
                isco = needs.isco[n_rows[reg]]
                codes[:, 1] = np.where(isco >= 0, n_occ + isco, -1)
                j = np.repeat(np.arange(len(reg)), 2)
                flat = codes.ravel()
                keep = flat >= 0
                need_codes = sp.csr_matrix(
                    (np.ones(int(keep.sum()), F32), (flat[keep], j[keep])),
                    shape=(cit.authorised.shape[1], len(reg)),
                )
                authorised = (cit.authorised[c_rows] @ need_codes).toarray() > 0
                gates[:, reg] |= np.where(authorised, np.uint16(0), np.uint16(Gate.REGULATED_PROFESSION))
        if on.min_eqf_level:
            asked = np.flatnonzero(needs.min_eqf[n_rows] > 0)
            if len(asked):
                below = cit.best_eqf[c_rows][:, None] < needs.min_eqf[n_rows[asked]][None, :]
                gates[:, asked] |= np.where(below, np.uint16(Gate.MIN_EQF_LEVEL), np.uint16(0))
        level = needs.level[n_rows].astype(np.intp)
        if not np.any(level):
            return _const(1.0, shape)
        return cit.qual_fit[c_rows][:, level]

    def _overqualification(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """(citizen's best EQF − need's level) / overqualification_levels, clipped to [0, 1]; 0 where no level."""
        level = needs.level[n_rows]
        best = cit.best_eqf[c_rows]
        if not np.any(level) or not np.any(best):
            return _const(0.0, shape)
        inv = F32(1.0 / self.policy.overqualification_levels)
        out = np.subtract.outer(best.astype(F32) * inv, level.astype(F32) * inv)
        out[:, level == 0] = 0.0
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def _language(
        self,
        cit: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
        shape: tuple[int, int],
        gates: np.ndarray,
    ) -> np.ndarray:
        """Min over required languages of 1 − gap × penalty (gap in CEFR steps); a hard gap is a gate."""
        req = needs.lang_req[n_rows]
        if req.nnz == 0:
            return _const(1.0, shape)
        hard = needs.lang_hard[n_rows]
        have_all = cit.languages[c_rows]
        penalty = needs.lang_penalty[n_rows]
        gate_on = self.policy.gates.language
        out = np.ones(shape, F32)
        for lang in np.unique(req.indices):
            asked = req[:, lang].toarray().ravel()
            cols = np.flatnonzero(asked > 0)
            have = have_all[:, lang].toarray().ravel().astype(F32)
            gap = np.subtract.outer(-have, -asked[cols].astype(F32))  # asked − have, ≤ 0 where met
            if gate_on:
                is_hard = hard[cols, lang].toarray().ravel() > 0
                if is_hard.any():
                    hc = np.flatnonzero(is_hard)
                    gates[:, cols[hc]] |= np.where(gap[:, hc] > 0, np.uint16(Gate.LANGUAGE), np.uint16(0))
            gap *= penalty[cols][None, :]
            np.clip(gap, 0.0, 1.0, out=gap)
            np.minimum(out[:, cols], F32(1.0) - gap, out=gap)
            out[:, cols] = gap
        return out

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
        """
        p = self.policy
        out: np.ndarray | None = None
        hours = needs.hours[n_rows]
        stated = np.flatnonzero(~np.isnan(hours))
        if len(stated):
            h = hours[stated]
            over = np.subtract.outer(-cit.hours_max[c_rows], -h)  # h − max
            under = np.subtract.outer(cit.hours_min[c_rows], h)  # min − h
            np.maximum(over, under, out=over)
            np.maximum(over, F32(0.0), out=over)
            if p.gates.hours:
                gates[:, stated] |= np.where(over > F32(p.hours_tolerance), np.uint16(Gate.HOURS), np.uint16(0))
            over *= F32(1.0 / p.hours_penalty_hours)
            np.clip(over, 0.0, 1.0, out=over)
            out = np.ones(shape, F32)
            out[:, stated] = F32(1.0) - over
        school = cit.school_days[c_rows]
        at_school = np.flatnonzero(school)
        if len(at_school):
            clash = POPCOUNT8[np.bitwise_and.outer(school[at_school], needs.weekdays[n_rows])]
            free = needs.n_days[n_rows][None, :] - clash
            short = np.maximum(needs.days_needed[n_rows][None, :] - free, 0).astype(F32)
            if p.gates.schedule_clash:
                gates[at_school] |= np.where(short > 0, np.uint16(Gate.SCHEDULE_CLASH), np.uint16(0))
            day_fit = F32(1.0) - short / np.maximum(needs.days_needed[n_rows], 1).astype(F32)[None, :]
            if out is None:
                out = np.ones(shape, F32)
            out[at_school] *= day_fit
        return _const(1.0, shape) if out is None else out

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
        Unknown coordinates on either side: ``unknown_location_score`` and no gate.
        """
        p = self.policy
        c_known = cit.geo_known[c_rows]
        n_known = needs.geo_known[n_rows]
        if not c_known.any() or not n_known.any():
            return _const(p.unknown_location_score, shape)
        d2 = np.subtract.outer(cit.geo_x[c_rows], needs.geo_x[n_rows])
        d2 *= d2
        dy = np.subtract.outer(cit.geo_y[c_rows], needs.geo_y[n_rows])
        dy *= dy
        d2 += dy
        max_km = cit.max_commute_km[c_rows].astype(F32)
        if p.gates.commute:
            beyond = d2 > (max_km * max_km)[:, None]
            beyond[~c_known] = False
            beyond[:, ~n_known] = False
            gates |= np.where(beyond, np.uint16(Gate.COMMUTE), np.uint16(0))
        half = max_km * F32(p.commute_half_score_fraction)
        d2 *= (F32(1.0) / (half * half))[:, None]
        d2 += F32(1.0)
        np.reciprocal(d2, out=d2)
        d2[~c_known] = F32(p.unknown_location_score)
        d2[:, ~n_known] = F32(p.unknown_location_score)
        return d2

    def _availability(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """1 − (days the need waits for the citizen) / availability_horizon_days, clipped to [0, 1]."""
        avail = cit.available_day[c_rows]
        start = needs.start_day[n_rows]
        if len(avail) == 0 or len(start) == 0 or avail.max() <= start.min():
            return _const(1.0, shape)
        # Day numbers (~20,000) are exact in float32, so the difference is exact and block-independent.
        wait = np.subtract.outer(avail.astype(F32), start.astype(F32))
        wait *= F32(1.0 / self.policy.availability_horizon_days)
        np.clip(wait, 0.0, 1.0, out=wait)
        np.subtract(F32(1.0), wait, out=wait)
        return wait

    def _licence_gate(
        self, cit: CitizenFeatures, c_rows: np.ndarray, needs: NeedFeatures, n_rows: np.ndarray, gates: np.ndarray
    ) -> None:
        required = needs.licences[n_rows]
        cols = np.flatnonzero(required)
        if len(cols) == 0:
            return
        missing = np.bitwise_and.outer(~cit.licences[c_rows], required[cols]) != 0
        gates[:, cols] |= np.where(missing, np.uint16(Gate.DRIVING_LICENCE), np.uint16(0))
