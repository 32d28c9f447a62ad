"""Citizen profiles → columnar features (one row per citizen)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import field

import numpy as np
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, DrivingLicence, Provenance, Recognition, cefr_rank, licence_closure
from matcher.features._base import (
    CSR,
    ISCO_MINOR_CODES,
    ISCO_UNIT_CODES,
    LANGUAGE_INDEX,
    LANGUAGES,
    ROW,
    TARGET_GROUP_CODE,
    FeatureTable,
    csr_from_dicts,
    day_number,
    geo_columns,
    licence_mask,
    weekday_mask,
)
from matcher.taxonomy import Postcodes, Taxonomy

log = logging.getLogger(__name__)

N_LEVELS = 9
"""EQF levels 0 (no requirement) … 8: the columns of ``qual_fit``."""


def is_recognised(country: str, recognition: Recognition) -> bool:
    """Danish qualifications count as recognised whatever the field says: there is nothing to recognise."""
    return country == "DK" or recognition is Recognition.recognised


def recognition_weight(country: str, recognition: Recognition, policy: ScoringPolicy) -> float:
    if is_recognised(country, recognition):
        return float(policy.recognition_weight.get(Recognition.recognised.value, 1.0))
    return float(policy.recognition_weight.get(recognition.value, 0.0))


def level_fit(have: int, need: int, policy: ScoringPolicy) -> float:
    """1 at or above the needed EQF level, ``eqf_gap_penalty`` less per level below, never below 0."""
    return 1.0 if have >= need else max(0.0, 1.0 - policy.eqf_gap_penalty * (need - have))


def experience_factor(years: float | None, policy: ScoringPolicy) -> float:
    """Credit of one past occupation, by years: ``experience_min_factor`` at 0, 1 at ``experience_full_years``."""
    y = policy.experience_unknown_years if years is None else years
    share = min(1.0, y / policy.experience_full_years)
    return policy.experience_min_factor + (1.0 - policy.experience_min_factor) * share


@dataclasses.dataclass(frozen=True, eq=False)
class CitizenFeatures(FeatureTable):
    """Citizens as arrays. Build with :meth:`build`; rows are positions, ``ids`` the caller's integer ids.

    Attributes (n = number of citizens)
    -----------------------------------
    target_group : int8 (n,)
        index into ``tuple(TargetGroup)``.
    lat, lon : float64 (n,)
        WGS84 degrees, NaN when neither a location nor a known postcode is given.
    geo_x, geo_y : float32 (n,)
        km on the tangent plane (0 where unknown); ``geo_known`` says which rows are real.
    max_commute_km : float32 (n,)
    skills : CSR float32 (n × n_skills)
        provenance weight of each claimed skill (max over duplicate claims, plus a small bonus for years, ≤ 1).
        ESCO language skills are left out: the language component scores languages.
    occ_exp, isco_unit_exp, isco_minor_exp : CSR float32
        experience factor per past occupation row, per ISCO unit group (4-digit code as column) and per minor
        group (3 digits), max over claims.
    authorised : CSR float32 (n × (n_occupations + 10000))
        1 where a recognised qualification (or a Danish one) leads to the occupation (column = occupation row) or
        its ISCO unit group (column = n_occupations + code): lifts the regulated-profession gate.
    qual_fit : float32 (n × 9)
        best recognition-weighted level fit of the citizen's qualifications for a need at EQF level 0…8
        (column 0 = no level asked = 1).
    best_eqf : int8 (n,)
        highest EQF level of a qualification that was not rejected (0 none): the over-qualification input.
    languages : CSR float32 (n × len(LANGUAGES))
        CEFR rank (1 = A1 … 6 = C2) per spoken language.
    school_days : uint8 (n,)
        weekday bitmask (bit 0 = Monday) of language-school days.
    hours_min, hours_max : float32 (n,)
    licences : uint16 (n,)
        driving-licence bitmask after :func:`licence_closure`.
    available_day : int32 (n,)
        day number (days since 1970-01-01) from which the citizen can start; the build day when not given.
    """

    target_group: np.ndarray = field(metadata=ROW)
    lat: np.ndarray = field(metadata=ROW)
    lon: np.ndarray = field(metadata=ROW)
    geo_x: np.ndarray = field(metadata=ROW)
    geo_y: np.ndarray = field(metadata=ROW)
    geo_known: np.ndarray = field(metadata=ROW)
    max_commute_km: np.ndarray = field(metadata=ROW)
    skills: sp.csr_matrix = field(metadata=CSR)
    occ_exp: sp.csr_matrix = field(metadata=CSR)
    isco_unit_exp: sp.csr_matrix = field(metadata=CSR)
    isco_minor_exp: sp.csr_matrix = field(metadata=CSR)
    authorised: sp.csr_matrix = field(metadata=CSR)
    qual_fit: np.ndarray = field(metadata=ROW)
    best_eqf: np.ndarray = field(metadata=ROW)
    languages: sp.csr_matrix = field(metadata=CSR)
    school_days: np.ndarray = field(metadata=ROW)
    hours_min: np.ndarray = field(metadata=ROW)
    hours_max: np.ndarray = field(metadata=ROW)
    licences: np.ndarray = field(metadata=ROW)
    available_day: np.ndarray = field(metadata=ROW)

    side = "citizen"

    @classmethod
    def build(
        cls,
        items: Sequence[tuple[int, Citizen]],
        taxonomy: Taxonomy,
        postcodes: Postcodes,
        policy: ScoringPolicy,
        today: dt.date,
    ) -> CitizenFeatures:
        """Turn ``(id, citizen)`` pairs into one table. Unresolved claims (``effective_uri`` None) are skipped;
        a URI the taxonomy does not know is skipped with a warning (it was checked when the profile was saved)."""
        n = len(items)
        skill_row = taxonomy.skill_row
        occ_row = taxonomy.occupation_row
        # Plain Python containers in the per-citizen loop: numpy scalar access costs ~100 ns a time, and this
        # loop runs 300k times for a national build.
        language_rows = set(np.flatnonzero(taxonomy.skill_is_language).tolist())
        isco_of = taxonomy.occupation_isco.tolist()
        regulated_of = taxonomy.occupation_regulated.tolist()
        neighbours = taxonomy.occupation_neighbours
        n_occ = taxonomy.n_occupations
        today_day = day_number(today)
        prov_weight = {prov: float(policy.provenance_weight.get(prov.value, 0.0)) for prov in Provenance}
        fit_by_level = [[level_fit(e, lv, policy) for lv in range(N_LEVELS)] for e in range(N_LEVELS)]
        licence_cache: dict[frozenset[DrivingLicence], int] = {}

        ids: list[int] = []
        target_group: list[int] = []
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        max_commute: list[float] = []
        qual_fit: list[list[float]] = []
        best_eqf: list[int] = []
        school: list[int] = []
        hours_min: list[float] = []
        hours_max: list[float] = []
        licences: list[int] = []
        available: list[int] = []
        skills: list[dict[int, float]] = []
        occ_exp: list[dict[int, float]] = []
        unit_exp: list[dict[int, float]] = []
        minor_exp: list[dict[int, float]] = []
        authorised: list[dict[int, float]] = []
        languages: list[dict[int, float]] = []

        for r, (cid, citizen) in enumerate(items):
            ids.append(cid)
            target_group.append(TARGET_GROUP_CODE[citizen.target_group])
            if citizen.location is not None:
                lat[r], lon[r] = citizen.location.lat, citizen.location.lon
            elif citizen.postcode is not None:
                coords = postcodes.coordinates(citizen.postcode)
                if coords is None:
                    log.info("citizen %s: postcode %s unknown; geography will be neutral", cid, citizen.postcode)
                else:
                    lat[r], lon[r] = coords
            max_commute.append(citizen.max_commute_km)
            hours_min.append(citizen.hours.min)
            hours_max.append(citizen.hours.max)
            available.append(day_number(citizen.available_from) if citizen.available_from else today_day)
            held = frozenset(citizen.driving_licences)
            if held not in licence_cache:
                licence_cache[held] = licence_mask(licence_closure(held))
            licences.append(licence_cache[held])

            row_skills: dict[int, float] = {}
            for claim in citizen.skills:
                uri = claim.uri or (claim.resolved.uri if claim.resolved else None)
                if uri is None:
                    continue
                col = skill_row.get(uri)
                if col is None:
                    log.warning("citizen %s: skill %s is not in the taxonomy; ignored", cid, uri)
                    continue
                if col in language_rows:
                    continue
                w = prov_weight[claim.provenance]
                if claim.years:
                    w = min(1.0, w + policy.skill_years_bonus * min(1.0, claim.years / policy.skill_years_full))
                if w > row_skills.get(col, 0.0):
                    row_skills[col] = w
            skills.append(row_skills)

            row_occ: dict[int, float] = {}
            row_unit: dict[int, float] = {}
            row_minor: dict[int, float] = {}
            for occ in citizen.occupations:
                uri = occ.effective_uri
                if uri is None:
                    continue
                orow = occ_row.get(uri)
                if orow is None:
                    log.warning("citizen %s: occupation %s is not in the taxonomy; ignored", cid, uri)
                    continue
                f = experience_factor(occ.years, policy)
                row_occ[orow] = max(row_occ.get(orow, 0.0), f)
                isco = isco_of[orow]
                if isco >= 0:
                    row_unit[isco] = max(row_unit.get(isco, 0.0), f)
                    row_minor[isco // 10] = max(row_minor.get(isco // 10, 0.0), f)
            occ_exp.append(row_occ)
            unit_exp.append(row_unit)
            minor_exp.append(row_minor)
            regulated_held: dict[int, float] = {o: f for o, f in row_occ.items() if regulated_of[o]}

            fit = fit_by_level[0]
            best = 0
            row_auth: dict[int, float] = {}
            for q in citizen.qualifications:
                rw = recognition_weight(q.country, q.recognition, policy)
                fit = [max(a, rw * b) for a, b in zip(fit, fit_by_level[q.eqf_level], strict=True)]
                if q.recognition is not Recognition.rejected:
                    best = max(best, q.eqf_level)
                q_row = occ_row.get(q.occupation_uri) if q.occupation_uri else None
                if q_row is not None and regulated_of[q_row]:
                    regulated_held[q_row] = max(regulated_held.get(q_row, 0.0), experience_factor(None, policy))
                if q.occupation_uri and is_recognised(q.country, q.recognition):
                    orow = occ_row.get(q.occupation_uri)
                    if orow is None:
                        log.warning("citizen %s: qualification occupation %s unknown; ignored", cid, q.occupation_uri)
                        continue
                    row_auth[orow] = 1.0
                    if isco_of[orow] >= 0:
                        row_auth[n_occ + isco_of[orow]] = 1.0
            # Experience in a regulated profession counts for its unregulated neighbours (an undocumented nurse
            # for home-care-aide jobs) whatever the recognition status: that is what the neighbours are for.
            if neighbours is not None:
                for o, f in regulated_held.items():
                    start, end = neighbours.indptr[o], neighbours.indptr[o + 1]
                    credit = f * policy.experience_regulated_neighbour
                    for nb in neighbours.indices[start:end].tolist():
                        row_occ[nb] = max(row_occ.get(nb, 0.0), credit)
            qual_fit.append(fit)
            best_eqf.append(best)
            authorised.append(row_auth)

            row_lang: dict[int, float] = {}
            days = 0
            for lang in citizen.languages:
                row_lang[LANGUAGE_INDEX[lang.language]] = float(cefr_rank(lang.cefr))
                if lang.school_weekdays:
                    days |= weekday_mask(lang.school_weekdays)
            languages.append(row_lang)
            school.append(days)

        return cls(
            ids=np.array(ids, np.int64),
            taxonomy_version=taxonomy.version,
            target_group=np.array(target_group, np.int8),
            **geo_columns(lat, lon),
            max_commute_km=np.array(max_commute, np.float32),
            skills=csr_from_dicts(skills, taxonomy.n_skills),
            occ_exp=csr_from_dicts(occ_exp, n_occ),
            isco_unit_exp=csr_from_dicts(unit_exp, ISCO_UNIT_CODES),
            isco_minor_exp=csr_from_dicts(minor_exp, ISCO_MINOR_CODES),
            authorised=csr_from_dicts(authorised, n_occ + ISCO_UNIT_CODES),
            qual_fit=np.array(qual_fit, np.float32).reshape(n, N_LEVELS),
            best_eqf=np.array(best_eqf, np.int8),
            languages=csr_from_dicts(languages, len(LANGUAGES)),
            school_days=np.array(school, np.uint8),
            hours_min=np.array(hours_min, np.float32),
            hours_max=np.array(hours_max, np.float32),
            licences=np.array(licences, np.uint16),
            available_day=np.array(available, np.int32),
        )
