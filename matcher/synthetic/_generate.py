"""The seeded generator: employers, vacancies and citizens of the Slagelse area (or the whole country).

Why it looks like this:

* Every random attribute is drawn for all rows at once with numpy from child generators of one
  :class:`numpy.random.SeedSequence`, so the same seed gives the same data and 300 000 citizens take seconds;
  employers, vacancies and citizens each get their own child stream, so the number of vacancies does not change
  the citizens.
* Skills are drawn from the real ESCO essential/optional skills of real occupations (``data/synthetic/sectors.csv``)
  so that skill overlap, ISCO neighbours and regulated professions behave as they will on real data.
* The domain models are built with ``model_validate`` (full validation): measured faster than
  ``model_construct`` for these nested models (see ``benchmarks/synthetic_speed.py``), and it means every
  generated object is known to satisfy the JSON contract. ``shared_parts=True`` validates each distinct nested
  part once and reuses the instance (see :class:`_Parts`).
* The cyclic garbage collector is paused while the models are built (see :func:`_gc_paused`).
* Shares and probabilities are illustrative, not statistics; the tables live in ``data/synthetic`` and the
  in-code ones are named constants below, documented in ``data/synthetic/README.md``.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from matcher.config import get_settings
from matcher.domain import (
    CEFR,
    CEFR_ORDER,
    Citizen,
    DrivingLicence,
    Employer,
    HoursRange,
    LanguageRequirement,
    LanguageSkill,
    NeedKind,
    OccupationClaim,
    Provenance,
    Qualification,
    Recognition,
    SkillClaim,
    SkillRef,
    Vacancy,
    Weekday,
)
from matcher.synthetic._cvr import random_cvrs
from matcher.synthetic._reference import Lexicon, Reference, load_lexicon, load_reference
from matcher.taxonomy import Postcodes, load_postcodes

logger = logging.getLogger(__name__)

NATIONAL = "national"

# --------------------------------------------------------------------------------------------- citizen constants
MIGRANT_SHARE = 0.08
"""Share of non-refugee citizens born abroad (EU and other labour migrants)."""
REFUGEE_RECOGNITION = {
    Recognition.recognised: 0.12,
    Recognition.partial: 0.13,
    Recognition.pending: 0.15,
    Recognition.not_assessed: 0.27,
    Recognition.undocumented: 0.20,
    Recognition.rejected: 0.13,
}
MIGRANT_RECOGNITION = {
    Recognition.recognised: 0.50,
    Recognition.partial: 0.20,
    Recognition.pending: 0.10,
    Recognition.not_assessed: 0.20,
    Recognition.undocumented: 0.0,
    Recognition.rejected: 0.0,
}
PROVENANCE_SHARE = {  # of skills learnt in past jobs; skills from a qualification are always from_qualification
    Provenance.self_reported: 0.70,
    Provenance.from_qualification: 0.0,
    Provenance.assessed: 0.20,
    Provenance.observed_in_internship: 0.10,
}
SCHOOL_DAY_PAIRS: tuple[tuple[Weekday, Weekday], ...] = (
    (Weekday.tue, Weekday.thu),
    (Weekday.mon, Weekday.wed),
    (Weekday.wed, Weekday.fri),
    (Weekday.mon, Weekday.thu),
)
SCHOOL_DAY_PAIR_SHARE = (0.4, 0.3, 0.15, 0.15)
REFUGEE_DANISH = {CEFR.A1: 0.25, CEFR.A2: 0.35, CEFR.B1: 0.25, CEFR.B2: 0.15}
MIGRANT_DANISH = {CEFR.A2: 0.2, CEFR.B1: 0.35, CEFR.B2: 0.3, CEFR.C1: 0.15}
SECTOR_OCCUPATION_SHARE = 0.85
"""Share of past occupations drawn from the demand sectors; the rest from any other ESCO occupation."""
WORK_RESTRICTIONS = (
    "Ingen tunge løft",
    "Kan ikke stå op hele dagen",
    "Undgå natarbejde",
    "Skånehensyn: ryg og skuldre",
    "Højst 4 timer ad gangen",
)

# --------------------------------------------------------------------------------------------- vacancy constants
KIND_SHARE = {
    NeedKind.ordinary: 0.55,
    NeedKind.flexjob: 0.10,
    NeedKind.igu: 0.05,
    NeedKind.internship: 0.10,
    NeedKind.wage_subsidy: 0.08,
    NeedKind.apprenticeship: 0.04,
    NeedKind.hybrid_internship: 0.08,
}
KIND_TITLE_PREFIX = {
    NeedKind.ordinary: "",
    NeedKind.flexjob: "Fleksjob: ",
    NeedKind.igu: "IGU: ",
    NeedKind.internship: "Virksomhedspraktik: ",
    NeedKind.wage_subsidy: "Løntilskud: ",
    NeedKind.apprenticeship: "Lærling: ",
    NeedKind.hybrid_internship: "Hybridpraktik: ",
}
SUPPORTED_KINDS = (NeedKind.igu, NeedKind.internship, NeedKind.wage_subsidy, NeedKind.hybrid_internship)
"""Kinds meant for people still learning Danish: lower language level, language support more common."""
WEEK_PATTERNS: tuple[tuple[Weekday, ...], ...] = (
    (Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri),
    (Weekday.mon, Weekday.wed, Weekday.fri),  # fits school on tue/thu
    (Weekday.tue, Weekday.thu, Weekday.fri),  # fits school on mon/wed
    (Weekday.mon, Weekday.tue, Weekday.thu),  # fits school on wed/fri
    (Weekday.wed, Weekday.thu, Weekday.fri, Weekday.sat, Weekday.sun),
)
POSITIONS_SHARE = (0.5, 0.2, 0.13, 0.1, 0.07)  # 1…5 positions


@dataclass
class SyntheticData:
    """One generated world. ``vacancy.employer_id`` is the 1-based index into ``employers``; ``protected[i]``
    belongs to ``citizens[i]`` and holds gender, birth year and origin country for fairness audits only — they
    are deliberately not on the :class:`~matcher.domain.Citizen` model, so the engine can never score on them.

    ``truth[i]`` is hidden ground truth for evaluation: the ESCO occupation URIs that ``citizens[i]``'s past-job
    skills were drawn from, primary first (one or two). Citizens with work experience also list them as
    ``occupations``; for the others (many young people and refugees) the engine sees only the skills drawn from
    them. Skills that come from a qualification are not counted here: the qualification itself carries its
    occupation. Like ``protected``, it is never on the model, so nothing the engine reads can contain it."""

    employers: list[Employer] = field(default_factory=list)
    citizens: list[Citizen] = field(default_factory=list)
    vacancies: list[Vacancy] = field(default_factory=list)
    protected: list[dict[str, Any]] = field(default_factory=list)
    truth: list[tuple[str, ...]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- helpers


def _choice(rng: np.random.Generator, p: np.ndarray | tuple[float, ...] | list[float], n: int) -> np.ndarray:
    weights = np.asarray(p, dtype=np.float64)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _sample_slices(
    rng: np.random.Generator, owner: np.ndarray, occ: np.ndarray, k: np.ndarray, ptr: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``k[j]`` items (with replacement; duplicates are dropped later) from occupation ``occ[j]``'s slice of
    ``idx``, for owner ``owner[j]``. Occupations with an empty slice give nothing."""
    count = ptr[occ + 1] - ptr[occ]
    k = np.where(count > 0, k, 0)
    rep_owner = np.repeat(owner, k)
    rep_occ = np.repeat(occ, k)
    pos = (rng.random(len(rep_owner)) * (ptr[rep_occ + 1] - ptr[rep_occ])).astype(np.int64)
    return rep_owner, idx[ptr[rep_occ] + pos]


def _dedupe(
    owner: np.ndarray, item: np.ndarray, n_owners: int, n_items: int, *attrs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Keep the first (owner, item) pair; return the row pointer per owner, the items and the kept attributes."""
    key = owner.astype(np.int64) * n_items + item
    unique, first = np.unique(key, return_index=True)
    kept_owner = unique // n_items
    ptr = np.searchsorted(kept_owner, np.arange(n_owners + 1))
    return ptr, unique % n_items, [a[first] for a in attrs]


def _round_half(x: np.ndarray) -> np.ndarray:
    return np.round(x * 2) / 2


def _today(today: dt.date | None) -> dt.date:
    return dt.date.today() if today is None else today


def _dates(today: dt.date, last: int) -> list[dt.date]:
    """``today + k days`` for k = 0 … last, to index instead of adding a timedelta per row."""
    return [today + dt.timedelta(days=k) for k in range(last + 1)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small acyclic objects.

    Otherwise every few thousand allocations trigger a collection that walks all the objects built so far;
    at 30 000 citizens that tripled the run time. Nothing built here has reference cycles, so nothing is lost.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Parts:
    """Makes the nested parts of citizens and vacancies (skill claims, languages, qualifications, hours).

    With ``share`` off a part is a plain dict that the parent's ``model_validate`` validates. With ``share`` on,
    equal parts are validated once and the same instance is reused by every parent (pydantic keeps a model
    instance it is given as is): 300 000 citizens then hold about 0.3 M distinct skill claims instead of 3 M,
    which is what keeps national-scale benchmarks within time and memory. The price is aliasing — mutating a
    shared part changes it for every citizen that holds it — hence off by default.
    """

    def __init__(self, share: bool) -> None:
        self.share = share
        self._cache: dict[tuple[type[BaseModel], Hashable], BaseModel] = {}

    def __call__(self, model: type[BaseModel], key: Hashable, data: dict[str, Any]) -> dict[str, Any] | BaseModel:
        if not self.share:
            return data
        hit = self._cache.get((model, key))
        if hit is None:
            hit = self._cache[(model, key)] = model.model_validate(data)
        return hit


# --------------------------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class RegionPostcodes:
    """The postcodes of a region and the probability that a citizen / an employer lives there."""

    codes: list[str]
    citizen_p: np.ndarray
    employer_p: np.ndarray


def _parse_town_shares(text: str, source: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for part in text.split():
        code, _, share = part.partition(":")
        try:
            shares[code] = float(share)
        except ValueError:
            raise ValueError(f"{source}: town share '{part}' is not 'postcode:share'") from None
    if sum(shares.values()) > 1 + 1e-9:
        raise ValueError(f"{source}: town shares sum above 1")
    return shares


def region_postcodes(ref: Reference, postcodes: Postcodes, region: str) -> RegionPostcodes:
    """Postcode weights of ``region``.

    ``national``: every postcode with a known municipality, uniform. There is no population table in ``data/``;
    uniform over postcodes already leans towards cities, because Copenhagen, Aarhus, Odense and Aalborg are split
    into many small postcodes while a rural postcode covers several villages.

    Named regions (``data/synthetic/regions.csv``): each municipality has a citizen and an employer weight; its
    main towns take the stated share of that weight, the rest is spread evenly over its other postcodes
    (postcodes that are some region municipality's main town are left out of the spread, so Sorø's own
    postcode 4180 is not also counted as a Slagelse village).
    """
    if region == NATIONAL:
        codes = [c for c, m in zip(postcodes.codes, postcodes.municipalities, strict=True) if m]
        p = np.full(len(codes), 1.0 / len(codes))
        return RegionPostcodes(codes, p, p)
    rows = ref.regions[ref.regions["region"] == region]
    if rows.empty:
        known = sorted({*ref.regions["region"], NATIONAL})
        raise ValueError(f"region '{region}' is unknown: use one of {', '.join(known)}")
    parsed = [
        (str(r["kommunekode"]), float(r["citizen_weight"]), float(r["employer_weight"]),
         _parse_town_shares(str(r["town_shares"]), f"regions.csv ({r['municipality']})"))
        for r in rows.to_dict("records")
    ]
    towns = {code for *_, shares in parsed for code in shares}
    weight: dict[str, np.ndarray] = {}
    for kode, w_cit, w_emp, shares in parsed:
        members = postcodes.in_municipality(kode)
        if not members:
            raise ValueError(f"regions.csv: municipality {kode} has no postcodes in data/postcodes")
        for code, share in shares.items():
            if code not in members:
                raise ValueError(f"regions.csv: town postcode {code} is not in municipality {kode}")
            weight.setdefault(code, np.zeros(2))[:] += share * np.array([w_cit, w_emp])
        rest = [c for c in members if c not in towns]
        remainder = 1.0 - sum(shares.values())
        targets = rest or list(shares)
        for code in targets:
            weight.setdefault(code, np.zeros(2))[:] += remainder / len(targets) * np.array([w_cit, w_emp])
    codes = sorted(weight)
    matrix = np.array([weight[c] for c in codes])
    return RegionPostcodes(codes, matrix[:, 0] / matrix[:, 0].sum(), matrix[:, 1] / matrix[:, 1].sum())


# --------------------------------------------------------------------------------------------- employers


def _employers(
    rng: np.random.Generator, ref: Reference, geo: RegionPostcodes, postcodes: Postcodes, n: int
) -> tuple[list[Employer], np.ndarray]:
    """Employers, and each one's sector index. The first employers cover every sector once so that every
    sector can have vacancies even in tiny worlds."""
    n_sectors = len(ref.sectors)
    sector = np.empty(n, dtype=np.int64)
    head = min(n, n_sectors)
    sector[:head] = np.arange(head)
    sector[head:] = _choice(rng, ref.sector_vacancy_share, n - head)
    where = rng.choice(len(geo.codes), size=n, p=geo.employer_p)
    town_style = rng.random(n) < 0.5
    word_u = rng.random(n)
    last_u = rng.random(n)
    cvrs = random_cvrs(rng, n)
    last_names = ref.names[("danish", "last")]
    out: list[Employer] = []
    columns = zip(sector.tolist(), word_u.tolist(), where.tolist(), town_style.tolist(), last_u.tolist(), cvrs,
                  strict=True)
    for s, wu, pc, town, lu, cvr in columns:
        words = ref.sector_employer_words[s]
        word = words[int(wu * len(words))]
        code = geo.codes[pc]
        if town:
            name = f"{word} {postcodes.name(code) or code}"
        else:
            name = f"{last_names[int(lu * len(last_names))]}s {word} ApS"
        out.append(Employer.model_validate({"name": name, "cvr": cvr, "postcode": code, "industry": ref.sectors[s]}))
    return out, sector


# --------------------------------------------------------------------------------------------- vacancies


def _vacancies(
    rng: np.random.Generator,
    ref: Reference,
    employers: list[Employer],
    employer_sector: np.ndarray,
    postcodes: Postcodes,
    n: int,
    today: dt.date,
    parts: _Parts,
) -> list[Vacancy]:
    n_sectors = len(ref.sectors)
    sector_total = np.bincount(ref.occ_sector, weights=ref.occ_weight, minlength=n_sectors)
    p_row = ref.sector_vacancy_share[ref.occ_sector] * ref.occ_weight / sector_total[ref.occ_sector]
    row = _choice(rng, p_row, n)
    sector = ref.occ_sector[row]
    esco = ref.occ_esco[row]

    # employer: uniform among the employers of the vacancy's sector (any employer when the sector has none)
    order = np.argsort(employer_sector, kind="stable")
    count = np.bincount(employer_sector, minlength=n_sectors)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    u = rng.random(n)
    has = count[sector] > 0
    emp = np.where(
        has,
        order[np.minimum(start[sector] + (u * count[sector]).astype(np.int64), len(order) - 1)],
        (u * len(employers)).astype(np.int64),
    )

    kinds = list(KIND_SHARE)
    kind = _choice(rng, list(KIND_SHARE.values()), n)
    k_of = {k: i for i, k in enumerate(kinds)}
    is_kind = {k: kind == k_of[k] for k in kinds}
    supported = np.isin(kind, [k_of[k] for k in SUPPORTED_KINDS])

    # hours
    hours = np.full(n, 37.0)
    part = is_kind[NeedKind.ordinary] & (rng.random(n) < ref.sector_part_time_share[sector])
    hours = np.where(part, rng.choice([20.0, 25.0, 30.0, 32.0], n), hours)
    hours = np.where(is_kind[NeedKind.flexjob], rng.integers(10, 26, n).astype(float), hours)
    hours = np.where(is_kind[NeedKind.internship], rng.choice([15.0, 20.0, 25.0, 30.0, 37.0], n), hours)
    hours = np.where(is_kind[NeedKind.wage_subsidy], rng.choice([30.0, 37.0], n), hours)
    hybrid = is_kind[NeedKind.hybrid_internship]
    hybrid_total = rng.choice([15.0, 20.0, 25.0, 30.0, 37.0], n)
    hours = np.where(hybrid, hybrid_total, hours)
    paid = np.floor(rng.uniform(2.0, np.floor(hybrid_total * 0.6) + 1.0)).astype(float)
    weeks = rng.integers(4, 27, n)
    mentor = rng.random(n) < 0.6

    # weekdays
    pattern = np.zeros(n, dtype=np.int64)
    three = (hybrid | is_kind[NeedKind.internship]) & (rng.random(n) < 0.35)
    three |= is_kind[NeedKind.flexjob] & (hours <= 15) & (rng.random(n) < 0.5)
    pattern = np.where(three, rng.integers(1, 4, n), pattern)
    weekend = (is_kind[NeedKind.ordinary] | is_kind[NeedKind.wage_subsidy]) & (
        rng.random(n) < ref.sector_weekend_share[sector]
    )
    pattern = np.where(weekend & ~three, 4, pattern)

    # Danish: the sector's level, soft; some hard B2 in care and always for nurses; one step lower, soft, for
    # the supported kinds; now and then no Danish requirement at all
    level = np.array([CEFR_ORDER.index(ref.sector_danish_cefr[s]) for s in range(n_sectors)])[sector]
    nurse = ref.occ_min_eqf[row] >= 6
    hard = nurse | (rng.random(n) < ref.sector_danish_hard_share[sector])
    level = np.where(hard, CEFR_ORDER.index(CEFR.B2), level)
    level = np.where(supported & ~nurse, np.maximum(level - 1, 0), level)
    hard &= ~supported | nurse
    no_danish = ~hard & (rng.random(n) < 0.08)
    hospitality = ref.sectors.index("hospitality") if "hospitality" in ref.sectors else -1
    english = rng.random(n) < np.where(sector == hospitality, 0.2, 0.04)
    support = rng.random(n) < np.where(supported, 0.6, 0.2)

    min_eqf = ref.occ_min_eqf[row].copy()
    min_eqf = np.where((min_eqf == 0) & is_kind[NeedKind.ordinary] & (rng.random(n) < 0.12), 3, min_eqf)
    min_eqf = np.where(is_kind[NeedKind.apprenticeship], 0, min_eqf)
    positions = _choice(rng, POSITIONS_SHARE, n) + 1
    start_offset = rng.integers(7, 57, n)
    no_start = rng.random(n) < 0.1
    expiry_offset = rng.integers(7, 43, n)

    # skills: a sample of the occupation's essential and optional ESCO skills
    owners = np.arange(n)
    e_owner, e_item = _sample_slices(rng, owners, esco, rng.integers(3, 9, n), ref.ess_ptr, ref.ess_idx)
    o_owner, o_item = _sample_slices(rng, owners, esco, rng.integers(0, 5, n), ref.opt_ptr, ref.opt_idx)
    n_skills = len(ref.skill_uris)
    e_ptr, e_items, _ = _dedupe(e_owner, e_item, n, n_skills)
    o_ptr, o_items, _ = _dedupe(o_owner, o_item, n, n_skills)
    e_list = [parts(SkillRef, j, {"uri": ref.skill_uris[j]}) for j in e_items.tolist()]
    o_list = [parts(SkillRef, j, {"uri": ref.skill_uris[j]}) for j in o_items.tolist()]

    kind_values = [k.value for k in kinds]
    patterns = [[d.value for d in p] for p in WEEK_PATTERNS]
    cefr_values = [c.value for c in CEFR_ORDER]
    titles = [t[:1].upper() + t[1:] for t in ref.occ_title_da]
    days = _dates(today, int(start_offset.max(initial=0) + expiry_offset.max(initial=0)))
    start = np.where(no_start, -1, start_offset)
    expiry = np.where(no_start, 0, start_offset) + expiry_offset
    out: list[Vacancy] = []
    columns = zip(
        row.tolist(), emp.tolist(), kind.tolist(), esco.tolist(), e_ptr[:-1].tolist(), e_ptr[1:].tolist(),
        o_ptr[:-1].tolist(), o_ptr[1:].tolist(), no_danish.tolist(), level.tolist(), hard.tolist(), english.tolist(),
        support.tolist(), min_eqf.tolist(), hours.tolist(), pattern.tolist(), positions.tolist(), start.tolist(),
        expiry.tolist(), paid.tolist(), weeks.tolist(), mentor.tolist(), strict=True,
    )
    for r, e, k, occ, e0, e1, o0, o1, no_da, lvl, hrd, en, sup, eqf, hrs, pat, pos, st, ex, pd_, wk, mnt in columns:
        employer = employers[e]
        kind_i = kinds[k]
        town = postcodes.name(employer.postcode) or employer.postcode
        description = f"{employer.name} søger {titles[r].lower()} i {town}."
        languages: list[dict[str, Any] | BaseModel] = []
        if not no_da:
            languages.append(parts(LanguageRequirement, ("da", lvl, hrd),
                                   {"language": "da", "cefr": cefr_values[lvl], "hard": hrd}))
        if en:
            languages.append(parts(LanguageRequirement, ("en", 2, False),
                                   {"language": "en", "cefr": CEFR.B1.value, "hard": False}))
        hybrid_details = None
        if kind_i is NeedKind.hybrid_internship:
            hybrid_details = {"paid_hours": pd_, "internship_hours": hrs - pd_, "weeks": wk, "mentor": mnt}
            description += (f" Hybridpraktik i {wk} uger: {pd_:g} timer med løn og {hrs - pd_:g} praktiktimer "
                            "om ugen.")
        licence = ref.occ_licence[r]
        out.append(Vacancy.model_validate({
            "employer_id": e + 1,
            "title": KIND_TITLE_PREFIX[kind_i] + titles[r],
            "occupation_uri": ref.esco_uris[occ],
            "description": description,
            "kind": kind_values[k],
            "essential_skills": e_list[e0:e1],
            "optional_skills": o_list[o0:o1],
            "languages": languages,
            "language_support": sup,
            "min_eqf_level": eqf or None,
            "driving_licences": [licence] if licence else [],
            "hours_per_week": hrs,
            "weekdays": patterns[pat],
            "postcode": employer.postcode,
            "positions": pos,
            "start_date": days[st] if st >= 0 else None,
            "expires": days[ex],
            "hybrid": hybrid_details,
        }))
    return out


# --------------------------------------------------------------------------------------------- citizens


def _skill_claims(
    skill_uris: list[str], prov_values: list[str], item: np.ndarray, prov: np.ndarray, years: np.ndarray,
    share: bool,
) -> list[dict[str, Any] | BaseModel]:
    """One skill claim per row. Shared: each distinct (skill, provenance, years) is validated once, found with
    ``np.unique`` rather than a dict lookup per claim."""
    years_list = [None if math.isnan(y) else y for y in years.tolist()]
    if not share:
        return [
            {"uri": skill_uris[s], "provenance": prov_values[p], "years": y}
            for s, p, y in zip(item.tolist(), prov.tolist(), years_list, strict=True)
        ]
    years_code = np.where(np.isnan(years), 0, np.round(np.nan_to_num(years) * 2) + 1).astype(np.int64)
    key = (item.astype(np.int64) * len(prov_values) + prov) * (int(years_code.max(initial=0)) + 1) + years_code
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    made: list[dict[str, Any] | BaseModel] = [
        SkillClaim.model_validate({"uri": skill_uris[s], "provenance": prov_values[p], "years": years_list[j]})
        for j, s, p in zip(first.tolist(), item[first].tolist(), prov[first].tolist(), strict=True)
    ]
    return [made[k] for k in inverse.tolist()]


def _citizens(
    rng: np.random.Generator,
    ref: Reference,
    geo: RegionPostcodes,
    n: int,
    today: dt.date,
    labels_share: float,
    lexicon: Lexicon | None,
    parts: _Parts,
) -> tuple[list[Citizen], list[dict[str, Any]], list[tuple[str, ...]]]:
    group_index = {g.value: i for i, g in enumerate(ref.target_groups)}

    def in_group(*names: str) -> np.ndarray:
        return np.isin(group, [group_index[g] for g in names if g in group_index])

    group = _choice(rng, ref.target_group_share, n)
    young = in_group("uddannelseshjaelp")
    refugee = in_group("integration")
    sick = in_group("sygedagpenge")
    flex = in_group("ledighedsydelse")

    # origin, gender, age (for fairness audits only)
    migrant = ~refugee & (rng.random(n) < MIGRANT_SHARE)
    country = np.full(n, -1, dtype=np.int64)
    country[refugee] = _choice(rng, ref.country_refugee_weight, int(refugee.sum()))
    country[migrant] = _choice(rng, ref.country_migrant_weight, int(migrant.sum()))
    danish = country < 0
    female = rng.random(n) < 0.5
    age = rng.integers(np.where(young, 18, np.where(refugee, 20, 25)), np.where(young, 30, np.where(refugee, 56, 65)))
    first_u = rng.random(n)
    last_u = rng.random(n)

    # past occupations; everybody gets at least one "source" occupation to draw skills from, recorded as an
    # OccupationClaim only for those with work experience
    has_occ = rng.random(n) < np.where(young, 0.5, np.where(refugee, 0.45, 0.9))
    n_src = np.where(has_occ, 1 + (rng.random(n) < 0.25), 1)
    src_owner = np.repeat(np.arange(n), n_src)
    m = len(src_owner)
    sector_total = np.bincount(ref.occ_sector, weights=ref.occ_weight, minlength=len(ref.sectors))
    p_row = ref.sector_citizen_share[ref.occ_sector] * ref.occ_weight / sector_total[ref.occ_sector]
    in_sector = rng.random(m) < SECTOR_OCCUPATION_SHARE
    row = _choice(rng, p_row, m)
    outside = ref.outside[rng.integers(0, len(ref.outside), m)]
    src_esco = np.where(in_sector, ref.occ_esco[row], outside)
    src_row = np.where(in_sector, row, -1)
    src_years = _round_half(rng.uniform(0.5, 20.0, m))
    first_src = np.cumsum(n_src) - n_src
    primary_row = src_row[first_src]
    primary_sector = np.where(primary_row >= 0, ref.occ_sector[primary_row], -1)
    src_ptr = np.concatenate([[0], np.cumsum(n_src)])

    # qualifications: foreign ones (refugees and migrants) in every recognition state, Danish ones for Danes
    foreign_q = (refugee & (rng.random(n) < 0.85)) | (migrant & (rng.random(n) < 0.6))
    fq_row = _choice(rng, ref.fq_weight, n)
    recognitions = list(Recognition)
    rec = np.where(
        refugee,
        _choice(rng, [REFUGEE_RECOGNITION[r] for r in recognitions], n),
        _choice(rng, [MIGRANT_RECOGNITION[r] for r in recognitions], n),
    )
    danish_q = danish & (rng.random(n) < np.where(young, 0.35, 0.7))
    dq_row = np.full(n, -1, dtype=np.int64)
    own_sector = danish_q & (primary_sector >= 0) & (rng.random(n) < 0.6)
    generic_rows = np.flatnonzero(ref.dq_sector < 0)
    for s in range(len(ref.sectors)):
        rows_s = np.flatnonzero(ref.dq_sector == s)
        mask = own_sector & (primary_sector == s)
        if len(rows_s) == 0:
            continue
        dq_row[mask] = rows_s[_choice(rng, ref.dq_weight[rows_s], int(mask.sum()))]
    rest = danish_q & (dq_row < 0)
    dq_row[rest] = generic_rows[_choice(rng, ref.dq_weight[generic_rows], int(rest.sum()))]
    q_esco = np.where(foreign_q, ref.fq_esco[fq_row], np.where(dq_row >= 0, ref.dq_esco[np.maximum(dq_row, 0)], -1))

    # skills: from the qualification's occupation (from_qualification), then past jobs' essential and optional
    provs = list(Provenance)
    from_q = provs.index(Provenance.from_qualification)
    q_has = np.flatnonzero(q_esco >= 0)
    a_owner, a_item = _sample_slices(rng, q_has, q_esco[q_has], rng.integers(2, 7, len(q_has)), ref.ess_ptr,
                                     ref.ess_idx)
    b_owner, b_item = _sample_slices(rng, src_owner, src_esco, rng.integers(3, 11, m), ref.ess_ptr, ref.ess_idx)
    c_owner, c_item = _sample_slices(rng, src_owner, src_esco, rng.integers(0, 5, m), ref.opt_ptr, ref.opt_idx)
    owner = np.concatenate([a_owner, b_owner, c_owner])
    item = np.concatenate([a_item, b_item, c_item])
    n_claims = len(owner)
    prov = np.concatenate([
        np.full(len(a_owner), from_q),
        _choice(rng, [PROVENANCE_SHARE[p] for p in provs], len(b_owner) + len(c_owner)),
    ])
    years = np.where(rng.random(n_claims) < 0.65, _round_half(rng.uniform(0.5, 15.0, n_claims)), np.nan)
    years[: len(a_owner)] = np.nan
    sk_ptr, sk_item, (sk_prov, sk_years) = _dedupe(owner, item, n, len(ref.skill_uris), prov, years)

    # languages
    da_level = np.full(n, CEFR_ORDER.index(CEFR.C2), dtype=np.int64)
    da_level[refugee] = np.array([CEFR_ORDER.index(c) for c in REFUGEE_DANISH])[
        _choice(rng, list(REFUGEE_DANISH.values()), int(refugee.sum()))]
    da_level[migrant] = np.array([CEFR_ORDER.index(c) for c in MIGRANT_DANISH])[
        _choice(rng, list(MIGRANT_DANISH.values()), int(migrant.sum()))]
    at_school = ((refugee & (rng.random(n) < 0.8)) | (migrant & (rng.random(n) < 0.3))) & (
        da_level < CEFR_ORDER.index(CEFR.B2)
    )
    school_pair = np.where(at_school, _choice(rng, SCHOOL_DAY_PAIR_SHARE, n), -1)
    english = rng.random(n) < np.where(danish, 0.6, np.where(refugee, 0.3, 0.5))
    en_level = np.where(
        danish,
        rng.integers(CEFR_ORDER.index(CEFR.B1), CEFR_ORDER.index(CEFR.C1) + 1, n),
        rng.integers(CEFR_ORDER.index(CEFR.A2), CEFR_ORDER.index(CEFR.B2) + 1, n),
    )

    # hours per benefit group: flexjob-eligible 6–20, sick-listed a reduced range, others (mostly) full time
    hmin = np.zeros(n)
    hmax = np.full(n, 37.0)
    part_time = in_group("dagpenge", "jobparat") & (rng.random(n) < 0.12)
    hmax = np.where(part_time, rng.choice([25.0, 30.0], n), hmax)
    hmax = np.where(in_group("aktivitetsparat"), rng.choice([15.0, 20.0, 25.0, 30.0, 37.0], n), hmax)
    a, b = rng.integers(6, 21, n), rng.integers(6, 21, n)
    hmin = np.where(flex, np.minimum(a, b), hmin)
    hmax = np.where(flex, np.maximum(a, b), hmax)
    sick_max = rng.choice([8.0, 10.0, 15.0, 20.0, 25.0, 30.0, 37.0], n)
    hmax = np.where(sick, sick_max, hmax)
    hmin = np.where(sick, np.floor(sick_max * rng.uniform(0.0, 0.5, n)), hmin)
    hmax = np.where(in_group("ressourceforloeb", "jobafklaring"), rng.integers(5, 26, n).astype(float), hmax)

    commute = np.round(rng.triangular(10.0, 25.0, 60.0, n))
    available = np.where(sick, rng.integers(14, 91, n), rng.integers(0, 61, n))
    no_date = rng.random(n) < 0.08
    transport = ref.sectors.index("transport") if "transport" in ref.sectors else -2
    agriculture = ref.sectors.index("agriculture") if "agriculture" in ref.sectors else -2
    drives = primary_sector == transport
    car = rng.random(n) < np.where(drives, 0.97, np.where(danish, 0.72, np.where(refugee, 0.2, 0.45)))
    heavy = np.where(drives, _choice(rng, (0.25, 0.25, 0.35, 0.15), n), _choice(rng, (0.94, 0.03, 0.02, 0.01), n))
    heavy = np.where(car, heavy, 0)
    tractor = (primary_sector == agriculture) & (rng.random(n) < 0.5)
    consent = rng.random(n) < 0.92
    restricted = in_group("sygedagpenge", "ressourceforloeb", "jobafklaring", "aktivitetsparat") & (
        rng.random(n) < 0.3
    )
    restriction = rng.integers(0, len(WORK_RESTRICTIONS), n)
    where = rng.choice(len(geo.codes), size=n, p=geo.citizen_p)

    # Danish free-text labels instead of URIs, to exercise normalisation (off by default)
    label_of: dict[int, str] = {}
    if labels_share > 0 and lexicon is not None:
        chosen = np.flatnonzero(rng.random(len(sk_item)) < labels_share)
        by_skill: dict[int, list[str]] = {}
        for phrase, s in zip(lexicon.phrases, lexicon.skill.tolist(), strict=True):
            if s >= 0:
                by_skill.setdefault(s, []).append(phrase)
        pick = rng.random(len(chosen))
        fallback = rng.integers(0, len(lexicon.phrases), len(chosen))
        for j, u, f in zip(chosen.tolist(), pick.tolist(), fallback.tolist(), strict=True):
            options = by_skill.get(int(sk_item[j]))
            label_of[j] = options[int(u * len(options))] if options else lexicon.phrases[f]

    # ---- build the models
    prov_values = [p.value for p in provs]
    claims = _skill_claims(ref.skill_uris, prov_values, sk_item, sk_prov, sk_years, parts.share)
    for j, label in label_of.items():  # free text is never shared: the server writes its resolution into it
        years_j = None if math.isnan(sk_years[j]) else float(sk_years[j])
        claims[j] = {"label": label, "provenance": prov_values[sk_prov[j]], "years": years_j}
    name_groups = ["danish", *ref.country_name_group]
    cefr_values = [c.value for c in CEFR_ORDER]
    school_values = [[d.value for d in pair] for pair in SCHOOL_DAY_PAIRS]
    rec_values = [r.value for r in recognitions]
    group_values = [g.value for g in ref.target_groups]
    days = _dates(today, int(available.max(initial=0)))
    # licence sets by code: bit 0 car (B), bits 1–2 the heavy category, bit 3 tractor (T)
    heavy_values = ("", DrivingLicence.C.value, DrivingLicence.CE.value, DrivingLicence.D.value)
    licence_sets = [
        (["B"] if code & 1 else []) + ([heavy_values[(code >> 1) & 3]] if code & 1 and code & 6 else [])
        + (["T"] if code & 8 else [])
        for code in range(16)
    ]
    licence_code = car.astype(np.int64) + 2 * heavy + 8 * tractor
    occupation_parts = [parts(OccupationClaim, (e, y), {"uri": ref.esco_uris[e], "years": y})
                        for e, y in zip(src_esco.tolist(), src_years.tolist(), strict=True)]
    citizens: list[Citizen] = []
    protected: list[dict[str, Any]] = []
    q_cache: dict[Hashable, list[dict[str, Any] | BaseModel]] = {}
    lang_cache: dict[Hashable, list[dict[str, Any] | BaseModel]] = {}
    columns = zip(
        country.tolist(), female.tolist(), first_u.tolist(), last_u.tolist(), age.tolist(), group.tolist(),
        where.tolist(), commute.tolist(), hmin.tolist(), hmax.tolist(), np.where(no_date, -1, available).tolist(),
        has_occ.tolist(), src_ptr[:-1].tolist(), src_ptr[1:].tolist(), sk_ptr[:-1].tolist(), sk_ptr[1:].tolist(),
        foreign_q.tolist(), fq_row.tolist(), rec.tolist(), dq_row.tolist(), da_level.tolist(), school_pair.tolist(),
        english.tolist(), en_level.tolist(), licence_code.tolist(), np.where(restricted, restriction, -1).tolist(),
        consent.tolist(), strict=True,
    )
    for i, (c, fem, fu, lu, age_i, grp, pc, km, h0, h1, avail, occ, o0, o1, s0, s1, fq, fqr, rc, dqr, da, school,
            en, en_lvl, lic, restr, cons) in enumerate(columns):
        origin = "DK" if c < 0 else ref.countries[c]
        names = name_groups[c + 1]
        firsts = ref.names[(names, "female" if fem else "male")]
        lasts = ref.names[(names, "last")]
        # The input lists are cached by content: validation copies them into new lists, so reuse is safe.
        q_key = (fqr, c, rc) if fq else dqr
        qualifications = q_cache.get(q_key)
        if qualifications is None:
            qualifications = q_cache[q_key] = []
            if fq:
                esco = int(ref.fq_esco[fqr])
                qualifications.append(parts(Qualification, ("foreign", fqr, origin, rc), {
                    "title": ref.fq_title[fqr], "country": origin, "eqf_level": int(ref.fq_eqf[fqr]),
                    "field": ref.fq_field[fqr], "recognition": rec_values[rc],
                    "occupation_uri": ref.esco_uris[esco] if esco >= 0 else None,
                }))
            elif dqr >= 0:
                esco = int(ref.dq_esco[dqr])
                qualifications.append(parts(Qualification, ("danish", dqr), {
                    "title": ref.dq_title[dqr], "country": "DK", "eqf_level": int(ref.dq_eqf[dqr]),
                    "field": ref.dq_field[dqr], "recognition": Recognition.recognised.value,
                    "occupation_uri": ref.esco_uris[esco] if esco >= 0 else None,
                }))
        lang_key = (da, school, c, en_lvl if en else -1)
        languages = lang_cache.get(lang_key)
        if languages is None:
            languages = lang_cache[lang_key] = [parts(LanguageSkill, ("da", da, school), {
                "language": "da", "cefr": cefr_values[da],
                "school_weekdays": school_values[school] if school >= 0 else [],
            })]
            if c >= 0:
                languages.append(parts(LanguageSkill, (c,),
                                       {"language": ref.country_language[c], "cefr": CEFR.C2.value}))
            if en:
                languages.append(parts(LanguageSkill, ("en", en_lvl),
                                       {"language": "en", "cefr": cefr_values[en_lvl]}))
        citizens.append(Citizen.model_validate({
            "external_ref": f"SYN-{i + 1:07d}",
            "name": f"{firsts[int(fu * len(firsts))]} {lasts[int(lu * len(lasts))]}",
            "target_group": group_values[grp],
            "postcode": geo.codes[pc],
            "max_commute_km": km,
            "hours": parts(HoursRange, (h0, h1), {"min": h0, "max": h1}),
            "available_from": days[avail] if avail >= 0 else None,
            "skills": claims[s0:s1],
            "occupations": occupation_parts[o0:o1] if occ else [],
            "qualifications": qualifications,
            "languages": languages,
            "driving_licences": licence_sets[lic],
            "work_restrictions": [WORK_RESTRICTIONS[restr]] if restr >= 0 else [],
            "consent_share_with_employers": cons,
        }))
        protected.append({"gender": "female" if fem else "male", "birth_year": today.year - age_i,
                          "origin_country": origin})
    # hidden truth, read off arrays already drawn: no random numbers are consumed, so the output is unchanged
    src_uris = [ref.esco_uris[e] for e in src_esco.tolist()]
    truth = [tuple(src_uris[o0:o1]) for o0, o1 in zip(src_ptr[:-1].tolist(), src_ptr[1:].tolist(), strict=True)]
    return citizens, protected, truth


# --------------------------------------------------------------------------------------------- entry point


def generate(
    n_citizens: int,
    n_vacancies: int,
    seed: int = 0,
    n_employers: int | None = None,
    region: str = "slagelse",
    today: dt.date | None = None,
    labels_share: float = 0.0,
    data_dir: Path | None = None,
    shared_parts: bool = False,
) -> SyntheticData:
    """Generate a synthetic world of employers, vacancies and citizens.

    Parameters
    ----------
    n_citizens, n_vacancies :
        how many of each (0 is allowed).
    seed :
        the same seed (and the same ``today``, ``data_dir`` contents and arguments) gives identical output.
    n_employers :
        default ``max(8, n_vacancies // 3)``, so each employer posts about three needs.
    region :
        ``"slagelse"`` (Slagelse municipality and its neighbours, ``data/synthetic/regions.csv``) or
        ``"national"`` (every Danish postcode).
    today :
        the reference date for start dates, expiry and availability; default the current date.
    labels_share :
        share of citizens' skill claims given as Danish free text (``label``) from ``data/lexicon/skills_da.csv``
        instead of a URI, to exercise normalisation. 0 (the default, used by the benchmarks) needs no lexicon.
    data_dir :
        default ``get_settings().data_dir``.
    shared_parts :
        reuse one validated instance for equal nested parts (skill claims, languages, qualifications, hours)
        across citizens and vacancies: several times faster and far less memory at national scale, but the parts
        are aliased, so treat the result as read-only (copy a citizen with ``model_copy(deep=True)`` before
        editing it). Off by default; the output is equal either way.
    """
    for name, value in (("n_citizens", n_citizens), ("n_vacancies", n_vacancies)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number ≥ 0, got {value!r}")
    if n_employers is None:
        n_employers = max(8, n_vacancies // 3)
    if isinstance(n_employers, bool) or not isinstance(n_employers, int) or n_employers < 1:
        raise ValueError(f"n_employers must be a whole number ≥ 1, got {n_employers!r}")
    if not 0.0 <= labels_share <= 1.0 or math.isnan(labels_share):
        raise ValueError(f"labels_share must be between 0 and 1, got {labels_share!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number ≥ 0, got {seed!r}")
    folder = Path(data_dir) if data_dir is not None else get_settings().data_dir
    ref = load_reference(folder)
    postcodes = load_postcodes(folder)
    geo = region_postcodes(ref, postcodes, region)
    lexicon = load_lexicon(folder, tuple(ref.skill_uris)) if labels_share > 0 else None
    day = _today(today)
    rng_emp, rng_vac, rng_cit = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))

    with _gc_paused():
        t0 = time.perf_counter()
        employers, employer_sector = _employers(rng_emp, ref, geo, postcodes, n_employers)
        t1 = time.perf_counter()
        parts = _Parts(shared_parts)
        vacancies = _vacancies(rng_vac, ref, employers, employer_sector, postcodes, n_vacancies, day, parts)
        t2 = time.perf_counter()
        citizens, protected, truth = _citizens(rng_cit, ref, geo, n_citizens, day, labels_share, lexicon, parts)
        t3 = time.perf_counter()
    logger.info(
        "synthetic %s: %d employers %.2fs, %d vacancies %.2fs, %d citizens %.2fs",
        region, n_employers, t1 - t0, n_vacancies, t2 - t1, n_citizens, t3 - t2,
    )
    return SyntheticData(
        employers=employers, citizens=citizens, vacancies=vacancies, protected=protected, truth=truth
    )
