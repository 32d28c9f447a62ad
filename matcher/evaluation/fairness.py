"""Fairness audit: does the engine give some groups of citizens less exposure in ranked lists, lower scores at equal
skill, or fewer proposals in the placement plan?

Groups (one *dimension* each, every citizen in exactly one group per dimension; ``unknown`` where the data is
missing):

- ``target_group``: the benefit group (from the profile).
- ``qualification``: ``Danish`` (holds at least one Danish qualification), ``foreign`` (qualifications, all of
  them foreign) or ``no qualification`` — from the countries of the profile's qualifications.
- ``gender``, ``age_band`` (18-29, 30-39, 40-49, 50-59, 60+ at the audit date, from the birth year) and
  ``origin`` (``Danish`` for origin country DK, else ``foreign``): from the protected attributes, which are held
  for audits only, apart from the profile, and never reach the scorer (tests/learning/test_protected_attributes.py
  proves it).

Measures (docs/fairness.md has the long version and how to read them):

(a) **Exposure** in the top ``k`` of every need's candidate list: a group's share of the list slots, and of the
    position-discounted exposure ``1 / log2(1 + rank)``, compared with its share of the *eligible* citizens: for
    each need, the citizens who pass every gate; a group's expected share is what a group-blind random order of
    each need's eligible citizens would give it. Ratio 1 = exposure in proportion; below 1 = under-exposed.
(b) **Score at equal skill**: eligible pairs (passing every gate) are stratified by the scorer's ``skills``
    component; within each stratum the group's mean total is compared with the reference group's, and the
    differences are averaged with the group's own pair counts as weights (a standardised difference: how the
    group's pairs would score if the reference group's pairs of the same skill fit scored like them). The same
    for the *gate pass rate* of pairs within commuting reach: do other gates (language, regulated professions,
    hours, licences) exclude the group more often at equal skill?
(c) **Proposals**: the share of the group's citizens with a proposal in the placement plan, of all and of those
    eligible for at least one need.

Everything is computed from the same scorer and the same blocks as the engine (:func:`matcher.ranking.plan_blocks`
and ``Scorer.score_block``); per block the work is a few vectorised passes (``np.bincount``, one sparse product),
accumulated per citizen, so any grouping is a cheap aggregation afterwards.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, TargetGroup, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import (
    Plan,
    TopK,
    assign_optimal,
    blocked_topk,
    build_edges,
    citizen_priorities,
    pairs_per_block,
    plan_blocks,
    scorer_label,
)
from matcher.scoring import Gate, Scorer
from matcher.taxonomy import Postcodes, Taxonomy

DIMENSIONS: tuple[str, ...] = ("target_group", "qualification", "gender", "age_band", "origin")
UNKNOWN = "unknown"
DANISH, FOREIGN, NO_QUALIFICATION = "Danish", "foreign", "no qualification"
UNDER_AGE = "under 18"
AGE_BANDS: tuple[tuple[int, str], ...] = ((18, "18-29"), (30, "30-39"), (40, "40-49"), (50, "50-59"), (60, "60+"))
"""(lowest age, label) of each band, ascending; the last band is open-ended."""

REFERENCE_GROUPS: dict[str, str] = {
    "target_group": TargetGroup.jobparat.value,
    "qualification": DANISH,
    "gender": "male",
    "age_band": "30-39",
    "origin": DANISH,
}
"""The group each dimension's differences are measured against; when it has no citizens, the largest group."""

SKILL_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Upper-closed strata of the skills component: exactly 0, (0, 0.1], (0.1, 0.2], …, (0.9, 1]."""

ATTRIBUTE_COLUMNS: tuple[str, ...] = ("gender", "birth_year", "origin_country")


# --------------------------------------------------------------------------------------------- groups


def qualification_group(citizen: Citizen) -> str:
    """``Danish`` with at least one Danish qualification, ``foreign`` when all are foreign, else none."""
    countries = {q.country for q in citizen.qualifications}
    if not countries:
        return NO_QUALIFICATION
    return DANISH if "DK" in countries else FOREIGN


def _age_bands(birth_year: pd.Series, as_of: dt.date) -> np.ndarray:
    age = as_of.year - birth_year.to_numpy(dtype=np.float64, na_value=np.nan)
    labels = np.array([UNDER_AGE] + [label for _, label in AGE_BANDS] + [UNKNOWN], dtype=object)
    lows = np.array([low for low, _ in AGE_BANDS], dtype=np.float64)
    code = np.searchsorted(lows, age, side="right")  # 0: under the first band; NaN sorts past the end
    code[np.isnan(age)] = len(labels) - 1
    return labels[code]


def _categorical(values: Any, first: Sequence[str]) -> pd.Categorical:
    """Categories in a fixed order: ``first`` (those present), then any others sorted, ``unknown`` last."""
    present = pd.unique(pd.Series(values, dtype=object))
    rest = sorted(v for v in present if v not in first and v != UNKNOWN)
    order = [v for v in first if v in set(present)] + rest + ([UNKNOWN] if UNKNOWN in set(present) else [])
    return pd.Categorical(values, categories=order)


def citizen_groups(
    citizen_ids: Sequence[int] | np.ndarray,
    citizens: Sequence[Citizen],
    attributes: pd.DataFrame | None,
    as_of: dt.date,
) -> pd.DataFrame:
    """One row per citizen (index ``citizen_id``), one categorical column per dimension in :data:`DIMENSIONS`.

    ``attributes``: protected attributes indexed by citizen id, with any of the columns ``gender``,
    ``birth_year``, ``origin_country`` (missing citizens, columns or values become ``unknown``); None when none
    are held.
    """
    ids = np.asarray(citizen_ids, dtype=np.int64)
    if len(ids) != len(citizens):
        raise ValueError(f"citizen_ids: {len(ids)} ids for {len(citizens)} citizens")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("citizen_ids: ids must be unique")
    attrs = pd.DataFrame(index=pd.Index(ids, name="citizen_id"))
    if attributes is not None and len(attributes.columns):
        unknown_columns = sorted(set(attributes.columns) - set(ATTRIBUTE_COLUMNS))
        if unknown_columns:
            raise ValueError(f"attributes: unknown columns {unknown_columns}; expected {list(ATTRIBUTE_COLUMNS)}")
        attrs = attributes.reindex(ids)
    gender = attrs.get("gender", pd.Series(index=attrs.index, dtype=object))
    birth = attrs.get("birth_year", pd.Series(index=attrs.index, dtype="float64"))
    origin = attrs.get("origin_country", pd.Series(index=attrs.index, dtype=object))
    origin_values = origin.to_numpy(dtype=object)
    origin_known = pd.notna(origin_values)
    return pd.DataFrame(
        {
            "target_group": _categorical([c.target_group.value for c in citizens], [g.value for g in TargetGroup]),
            "qualification": _categorical(
                [qualification_group(c) for c in citizens], [DANISH, FOREIGN, NO_QUALIFICATION]
            ),
            "gender": _categorical(
                np.where(pd.notna(gender.to_numpy(dtype=object)), gender.to_numpy(dtype=object), UNKNOWN),
                ["female", "male", "other", "undisclosed"],
            ),
            "age_band": _categorical(
                _age_bands(pd.to_numeric(birth, errors="coerce"), as_of),
                [UNDER_AGE] + [label for _, label in AGE_BANDS],
            ),
            "origin": _categorical(
                np.where(origin_known, np.where(origin_values == "DK", DANISH, FOREIGN), UNKNOWN), [DANISH, FOREIGN]
            ),
        },
        index=pd.Index(ids, name="citizen_id"),
    )


# --------------------------------------------------------------------------------------------- scoring pass


def _strata_labels(edges: np.ndarray) -> list[str]:
    uppers = [*edges[1:].tolist(), 1.0]
    return ["0"] + [f"({lo:g}, {hi:g}]" for lo, hi in zip(edges.tolist(), uppers, strict=True)]


@dataclass(frozen=True, eq=False)
class PairStatistics:
    """What the audit needs from scoring every pair once, per citizen row (aligned with the features' ``ids``)
    and skill stratum, plus eligible citizens per group and need.

    ``reach``, ``eligible``: (n_citizens × n_strata) pair counts within commuting reach / passing every gate;
    ``score_sum``: the sum of ``total`` over the eligible pairs. ``group_eligible[dimension]``: (n_groups ×
    n_needs) eligible citizens of each group (categories of ``groups[dimension]``) per need; ``need_eligible``:
    (n_needs,) eligible citizens per need. ``need_ids`` and ``citizen_ids`` give the row orders.
    """

    citizen_ids: np.ndarray
    need_ids: np.ndarray
    strata: list[str]
    reach: np.ndarray
    eligible: np.ndarray
    score_sum: np.ndarray
    group_eligible: dict[str, np.ndarray]
    need_eligible: np.ndarray
    seconds: float = 0.0


def _group_codes(groups: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    """(n_citizens × n_dimensions) codes, offset so that all dimensions share one index; and the offsets."""
    offsets, cols, start = [], [], 0
    for dim in DIMENSIONS:
        cat = groups[dim].cat
        offsets.append(start)
        cols.append(cat.codes.to_numpy().astype(np.int64) + start)
        start += len(cat.categories)
    offsets.append(start)
    return np.stack(cols, axis=1), offsets


def pair_statistics(
    scorer: Scorer,
    citizens: CitizenFeatures,
    needs: NeedFeatures,
    groups: pd.DataFrame,
    *,
    geo_blocking: bool,
    memory_budget_mb: float = 256,
    skill_edges: Sequence[float] = SKILL_EDGES,
) -> PairStatistics:
    """Score every citizen × need pair in blocks (as the engine does) and accumulate what the audit needs.

    ``groups``: :func:`citizen_groups` for at least ``citizens.ids``. ``geo_blocking`` as for the engine (on when
    the commute gate is): pairs certainly beyond the commute are not scored — they are neither within reach nor
    eligible.
    """
    started = time.perf_counter()
    edges = np.asarray(skill_edges, dtype=np.float32)
    if len(edges) == 0 or edges[0] != 0 or np.any(np.diff(edges) <= 0) or edges[-1] >= 1:
        raise ValueError(f"skill_edges: must start at 0 and increase below 1, got {list(skill_edges)}")
    n_strata = len(edges) + 1
    aligned = _aligned_groups(groups, citizens.ids)
    codes, offsets = _group_codes(aligned)
    n_codes = offsets[-1]
    n_c, n_n = citizens.n, needs.n
    onehot = sp.csr_matrix(
        (np.ones(codes.size, np.float32), (codes.ravel(), np.repeat(np.arange(n_c), codes.shape[1]))),
        shape=(n_codes, n_c),
    )
    reach = np.zeros((n_c, n_strata), dtype=np.int64)
    eligible = np.zeros((n_c, n_strata), dtype=np.int64)
    score_sum = np.zeros((n_c, n_strata), dtype=np.float64)
    per_need = np.zeros((n_codes, n_n), dtype=np.float64)
    commute = np.uint16(Gate.COMMUTE)
    max_pairs = pairs_per_block(scorer.bytes_per_pair(), memory_budget_mb)
    for cb, nb in plan_blocks(citizens, np.arange(n_c), needs, np.arange(n_n), max_pairs, geo_blocking):
        block = scorer.score_block(citizens, cb, needs, nb)
        gates = block.gates
        ok = gates == 0
        within = (gates & commute) == 0
        stratum = np.searchsorted(edges, np.asarray(block.components["skills"], dtype=np.float32), side="left")
        key = (np.arange(len(cb), dtype=np.int64)[:, None] * n_strata + stratum).ravel()
        size = len(cb) * n_strata
        flat_ok = ok.ravel()
        reach[cb] += np.bincount(key[within.ravel()], minlength=size).reshape(len(cb), n_strata)
        eligible[cb] += np.bincount(key[flat_ok], minlength=size).reshape(len(cb), n_strata)
        score_sum[cb] += np.bincount(
            key[flat_ok], weights=block.total.ravel()[flat_ok].astype(np.float64), minlength=size
        ).reshape(len(cb), n_strata)
        per_need[:, nb] += onehot[:, cb] @ ok.astype(np.float32)
    group_eligible = {dim: per_need[offsets[d] : offsets[d + 1]] for d, dim in enumerate(DIMENSIONS)}
    need_eligible = group_eligible[DIMENSIONS[0]].sum(axis=0)
    return PairStatistics(
        citizen_ids=citizens.ids.astype(np.int64),
        need_ids=needs.ids.astype(np.int64),
        strata=_strata_labels(edges),
        reach=reach,
        eligible=eligible,
        score_sum=score_sum,
        group_eligible=group_eligible,
        need_eligible=need_eligible,
        seconds=time.perf_counter() - started,
    )


def _aligned_groups(groups: pd.DataFrame, citizen_ids: np.ndarray) -> pd.DataFrame:
    missing = ~np.isin(citizen_ids, groups.index.to_numpy())
    if missing.any():
        raise ValueError(f"groups: {int(missing.sum())} citizens have no row, e.g. id {int(citizen_ids[missing][0])}")
    return groups.loc[citizen_ids]


# --------------------------------------------------------------------------------------------- ranked lists


@dataclass(frozen=True, eq=False)
class RankedLists:
    """What the audit reads from a ranking: each need's ranked citizen ids (n_needs × k, best first, -1 padding)
    and the citizens with a proposal in the placement plan (one entry per proposal)."""

    need_ids: np.ndarray
    need_citizen_ids: np.ndarray
    plan_citizen_ids: np.ndarray
    source: str = "engine"

    def truncated(self, k: int) -> RankedLists:
        return RankedLists(self.need_ids, self.need_citizen_ids[:, :k], self.plan_citizen_ids, self.source)


def placement_plan(topk: TopK, citizens: CitizenFeatures, needs: NeedFeatures, policy: ScoringPolicy) -> Plan:
    """The nightly run's placement plan over ``topk`` (min-cost flow with the policy's target-group priorities,
    over-qualification cost and the needs' positions as capacity)."""
    c_rows = citizens.rows_of(topk.citizen_ids.tolist())
    priority = citizen_priorities(
        citizens.target_group[c_rows], [g.value for g in TargetGroup], policy.target_group_priority
    )
    edges = build_edges(topk, priority, policy.overqualification_cost, policy.overqualification_levels)
    capacity = needs.positions[needs.rows_of(topk.need_ids.tolist())].astype(np.int64)
    return assign_optimal(topk, edges, capacity)


def engine_rankings(
    scorer: Scorer,
    citizens: CitizenFeatures,
    needs: NeedFeatures,
    policy: ScoringPolicy,
    k: int,
    memory_budget_mb: float = 256,
) -> RankedLists:
    """Top ``k`` both ways and the placement plan, as the nightly run computes them (without overrides)."""
    topk = blocked_topk(
        scorer, citizens, np.arange(citizens.n), needs, np.arange(needs.n), k, memory_budget_mb,
        geo_blocking=policy.gates.commute,
    )  # fmt: skip
    plan = placement_plan(topk, citizens, needs, policy)
    return RankedLists(topk.need_ids.astype(np.int64), topk.need_citizen_ids, plan.citizen_ids, "engine")


# --------------------------------------------------------------------------------------------- tables


def _discount(n: int) -> np.ndarray:
    """Position weights 1 / log2(1 + rank) for ranks 1…n."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _ratio(a: Any, b: Any) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b > 0)


def _references(groups: pd.DataFrame, reference: Mapping[str, str] | None) -> dict[str, str]:
    chosen = {**REFERENCE_GROUPS, **(reference or {})}
    out: dict[str, str] = {}
    for dim in DIMENSIONS:
        counts = groups[dim].value_counts(sort=False)
        counts = counts[counts > 0]
        want = chosen.get(dim)
        if want in counts.index:
            out[dim] = str(want)
        elif len(counts):
            out[dim] = str(counts.idxmax())
    return out


def _group_frame(groups: pd.DataFrame, dim: str) -> pd.DataFrame:
    cats = list(groups[dim].cat.categories)
    return pd.DataFrame({"dimension": dim, "group": cats})


def exposure_table(
    groups: pd.DataFrame, lists: RankedLists, stats: PairStatistics, k: int
) -> pd.DataFrame:
    """(a) Per dimension and group: list slots and discounted exposure in the top ``k`` of every need, against
    the group's expected share among each need's eligible citizens."""
    ranked = lists.need_citizen_ids[:, :k]
    discount = _discount(ranked.shape[1])
    pos = groups.index.get_indexer(pd.Index(ranked.ravel()))
    present = (ranked.ravel() >= 0) & (pos >= 0)
    weight = np.broadcast_to(discount, ranked.shape).ravel()[present]
    slots_j = np.minimum(stats.need_eligible, k)
    exp_w = np.concatenate([[0.0], np.cumsum(_discount(k))])[slots_j.astype(np.int64)]
    share_j = np.divide(1.0, stats.need_eligible, out=np.zeros_like(stats.need_eligible), where=stats.need_eligible > 0)
    frames = []
    for dim in DIMENSIONS:
        codes = groups[dim].cat.codes.to_numpy()
        n_groups = len(groups[dim].cat.categories)
        citizens_g = np.bincount(codes, minlength=n_groups)
        slots_g = np.bincount(codes[pos[present]], minlength=n_groups).astype(np.float64)
        expo_g = np.bincount(codes[pos[present]], weights=weight, minlength=n_groups)
        elig = stats.group_eligible[dim]  # (groups × needs)
        exp_slots_g = elig @ (slots_j * share_j)
        exp_expo_g = elig @ (exp_w * share_j)
        frame = _group_frame(groups, dim)
        frame["citizens"] = citizens_g
        frame["population_share"] = _ratio(citizens_g, citizens_g.sum())
        frame["eligible_share"] = _ratio(exp_slots_g, exp_slots_g.sum())
        frame["slots"] = slots_g.astype(np.int64)
        frame["slot_share"] = _ratio(slots_g, slots_g.sum())
        frame["slot_ratio"] = _ratio(frame["slot_share"].to_numpy(), frame["eligible_share"].to_numpy())
        frame["exposure_share"] = _ratio(expo_g, expo_g.sum())
        frame["expected_exposure_share"] = _ratio(exp_expo_g, exp_expo_g.sum())
        frame["exposure_ratio"] = _ratio(
            frame["exposure_share"].to_numpy(), frame["expected_exposure_share"].to_numpy()
        )
        frames.append(frame[frame["citizens"] > 0])
    return pd.concat(frames, ignore_index=True)


def _standardised_difference(
    num: np.ndarray, den: np.ndarray, ref: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per group: (mean, raw difference to the reference, stratum-weighted difference, coverage).

    ``num``/``den`` are (groups × strata) sums and counts. Within each stratum where both the group and the
    reference have pairs, the difference of means is weighted by the group's count there; coverage is the share
    of the group's count in such strata."""
    mean_gs = _ratio(num, den)
    mean_g = _ratio(num.sum(axis=1), den.sum(axis=1))
    raw = mean_g - mean_g[ref]
    common = (den > 0) & (den[ref] > 0)[None, :]
    w = np.where(common, den, 0.0)
    diff = np.where(common, mean_gs - mean_gs[ref][None, :], 0.0)
    standardised = _ratio((w * diff).sum(axis=1), w.sum(axis=1))
    coverage = _ratio(w.sum(axis=1), den.sum(axis=1))
    return mean_g, raw, standardised, coverage


def _by_group(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(citizens × strata) → (groups × strata) sums."""
    out = np.zeros((n_groups, values.shape[1]), dtype=np.float64)
    np.add.at(out, codes, values)
    return out


def score_tables(
    groups: pd.DataFrame, stats: PairStatistics, references: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(b) Mean score and gate pass rate at equal skill per dimension and group, and the per-stratum table."""
    aligned = _aligned_groups(groups, stats.citizen_ids)
    summary, strata = [], []
    for dim in DIMENSIONS:
        codes = aligned[dim].cat.codes.to_numpy()
        cats = list(aligned[dim].cat.categories)
        n_groups = len(cats)
        elig = _by_group(stats.eligible.astype(np.float64), codes, n_groups)
        total = _by_group(stats.score_sum, codes, n_groups)
        reach = _by_group(stats.reach.astype(np.float64), codes, n_groups)
        ref = cats.index(references[dim]) if dim in references else 0
        mean, raw, std, cover = _standardised_difference(total, elig, ref)
        rate, _, rate_std, _ = _standardised_difference(elig, reach, ref)
        frame = _group_frame(aligned, dim)
        frame["reference"] = cats[ref]
        frame["citizens"] = np.bincount(codes, minlength=n_groups)
        frame["pairs"] = elig.sum(axis=1).astype(np.int64)
        frame["mean_score"] = mean
        frame["raw_difference"] = raw
        frame["difference_at_equal_skill"] = std
        frame["coverage"] = cover
        frame["pairs_within_reach"] = reach.sum(axis=1).astype(np.int64)
        frame["pass_rate"] = rate
        frame["pass_rate_difference_at_equal_skill"] = rate_std
        summary.append(frame[frame["citizens"] > 0])
        long = pd.DataFrame(
            {
                "dimension": dim,
                "group": np.repeat(cats, len(stats.strata)),
                "stratum": np.tile(stats.strata, n_groups),
                "pairs": elig.ravel().astype(np.int64),
                "mean_score": _ratio(total, elig).ravel(),
                "pairs_within_reach": reach.ravel().astype(np.int64),
                "pass_rate": _ratio(elig, reach).ravel(),
            }
        )
        strata.append(long[long["pairs_within_reach"] > 0])
    return pd.concat(summary, ignore_index=True), pd.concat(strata, ignore_index=True)


def proposal_table(groups: pd.DataFrame, lists: RankedLists, stats: PairStatistics) -> pd.DataFrame:
    """(c) Per dimension and group: citizens with at least one proposal in the placement plan."""
    proposed = np.isin(groups.index.to_numpy(), lists.plan_citizen_ids)
    eligible_ids = stats.citizen_ids[stats.eligible.sum(axis=1) > 0]
    has_eligible = np.isin(groups.index.to_numpy(), eligible_ids)
    overall = proposed.mean() if len(proposed) else math.nan
    frames = []
    for dim in DIMENSIONS:
        codes = groups[dim].cat.codes.to_numpy()
        n_groups = len(groups[dim].cat.categories)
        citizens_g = np.bincount(codes, minlength=n_groups)
        proposed_g = np.bincount(codes[proposed], minlength=n_groups)
        eligible_g = np.bincount(codes[has_eligible], minlength=n_groups)
        frame = _group_frame(groups, dim)
        frame["citizens"] = citizens_g
        frame["with_proposal"] = proposed_g
        frame["proposal_share"] = _ratio(proposed_g, citizens_g)
        frame["ratio_to_all"] = _ratio(frame["proposal_share"].to_numpy(), np.full(n_groups, overall))
        frame["eligible_for_a_need"] = eligible_g
        frame["proposal_share_of_eligible"] = _ratio(proposed_g, eligible_g)
        frames.append(frame[frame["citizens"] > 0])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------- the audit


@dataclass(frozen=True, eq=False)
class FairnessReport:
    """The audit's tables (pandas DataFrames, one row per dimension and group) and what they were computed on:
    ``source`` is the ranking audited (a stored run or the engine now), ``scorer`` what scored the pairs."""

    k: int
    as_of: dt.date
    n_citizens: int
    n_needs: int
    source: str
    scorer: str
    references: dict[str, str]
    exposure: pd.DataFrame
    score_at_equal_skill: pd.DataFrame
    score_by_stratum: pd.DataFrame
    proposals: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "exposure": self.exposure,
            "score_at_equal_skill": self.score_at_equal_skill,
            "proposals": self.proposals,
            "score_by_stratum": self.score_by_stratum,
        }

    def meta(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "as_of": self.as_of.isoformat(),
            "n_citizens": self.n_citizens,
            "n_needs": self.n_needs,
            "source": self.source,
            "scorer": self.scorer,
            "references": dict(self.references),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the meta data and each table as a list of records (NaN → None)."""
        out: dict[str, Any] = {"meta": self.meta()}
        for name, table in self.tables().items():
            clean = table.astype(object).where(pd.notna(table), None)
            out[name] = clean.to_dict(orient="records")
        return out


def audit_features(
    scorer: Scorer,
    citizens: CitizenFeatures,
    needs: NeedFeatures,
    groups: pd.DataFrame,
    policy: ScoringPolicy,
    *,
    as_of: dt.date,
    k: int = 20,
    lists: RankedLists | None = None,
    memory_budget_mb: float = 256,
    reference: Mapping[str, str] | None = None,
    skill_edges: Sequence[float] = SKILL_EDGES,
) -> FairnessReport:
    """The audit on built features. ``lists``: the ranking to audit (e.g. a stored nightly run); None ranks now
    with ``scorer`` as the nightly run would. ``groups``: :func:`citizen_groups` covering ``citizens.ids``."""
    if k < 1:
        raise ValueError(f"k: must be at least 1, got {k}")
    if citizens.n == 0:
        raise ValueError("citizens: there is nobody to audit")
    if needs.n == 0:
        raise ValueError("needs: there are no needs to rank citizens for")
    aligned = _aligned_groups(groups, citizens.ids.astype(np.int64))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if lists is None:
        lists = engine_rankings(scorer, citizens, needs, policy, k, memory_budget_mb)
        timings["rank_s"] = time.perf_counter() - t0
    stats = pair_statistics(
        scorer, citizens, needs, aligned, geo_blocking=policy.gates.commute, memory_budget_mb=memory_budget_mb,
        skill_edges=skill_edges,
    )  # fmt: skip
    timings["score_s"] = stats.seconds
    refs = _references(aligned, reference)
    summary, strata = score_tables(aligned, stats, refs)
    return FairnessReport(
        k=k,
        as_of=as_of,
        n_citizens=citizens.n,
        n_needs=needs.n,
        source=lists.source,
        scorer=scorer_label(scorer),
        references=refs,
        exposure=exposure_table(aligned, lists, stats, k),
        score_at_equal_skill=summary,
        score_by_stratum=strata,
        proposals=proposal_table(aligned, lists, stats),
        seconds={key: round(value, 3) for key, value in timings.items()},
    )


def fairness_audit(
    citizens: Sequence[tuple[int, Citizen]],
    needs: Sequence[tuple[int, Vacancy]],
    attributes: pd.DataFrame | None,
    *,
    taxonomy: Taxonomy,
    postcodes: Postcodes,
    policy: ScoringPolicy,
    as_of: dt.date,
    k: int = 20,
    scorer: Scorer | None = None,
    lists: RankedLists | None = None,
    memory_budget_mb: float = 256,
    reference: Mapping[str, str] | None = None,
) -> FairnessReport:
    """The audit from domain objects: builds the features and groups, then :func:`audit_features`.

    ``citizens``/``needs``: (id, model) pairs; ``attributes``: protected attributes indexed by citizen id (see
    :func:`citizen_groups`); ``scorer``: the engine's scorer (default: the rule scorer of ``policy``).
    """
    from matcher.scoring import RuleScorer

    c_feats = CitizenFeatures.build(list(citizens), taxonomy, postcodes, policy, as_of)
    n_feats = NeedFeatures.build(list(needs), taxonomy, postcodes, policy, as_of)
    groups = citizen_groups([cid for cid, _ in citizens], [c for _, c in citizens], attributes, as_of)
    return audit_features(
        scorer or RuleScorer(policy, taxonomy), c_feats, n_feats, groups, policy,
        as_of=as_of, k=k, lists=lists, memory_budget_mb=memory_budget_mb, reference=reference,
    )  # fmt: skip


def attributes_frame(rows: Sequence[tuple[int, str | None, int | None, str | None]]) -> pd.DataFrame:
    """Stored audit attributes (citizen id, gender, birth year, origin country) as the frame the audit takes."""
    frame = pd.DataFrame(list(rows), columns=["citizen_id", *ATTRIBUTE_COLUMNS])
    frame["birth_year"] = pd.to_numeric(frame["birth_year"], errors="coerce").astype("Float64")
    return frame.set_index("citizen_id")
