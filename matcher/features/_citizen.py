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
from matcher.domain import Citizen, Recognition, cefr_rank, licence_closure
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
    licence_mask,
    project_km,
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


def skill_weight(provenance: str, years: float | None, policy: ScoringPolicy) -> float:
    base = float(policy.provenance_weight.get(provenance, 0.0))
    if years:
        base += policy.skill_years_bonus * min(1.0, years / policy.skill_years_full)
    return min(1.0, base)


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
        is_language = np.asarray(taxonomy.skill_is_language, dtype=bool)
        n_occ = taxonomy.n_occupations
        today_day = day_number(today)

        ids = np.empty(n, np.int64)
        target_group = np.empty(n, np.int8)
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        max_commute = np.empty(n, np.float32)
        qual_fit = np.empty((n, 9), np.float32)
        best_eqf = np.zeros(n, np.int8)
        school = np.zeros(n, np.uint8)
        hours_min = np.empty(n, np.float32)
        hours_max = np.empty(n, np.float32)
        licences = np.zeros(n, np.uint16)
        available = np.empty(n, np.int32)
        skills: list[dict[int, float]] = []
        occ_exp: list[dict[int, float]] = []
        unit_exp: list[dict[int, float]] = []
        minor_exp: list[dict[int, float]] = []
        authorised: list[dict[int, float]] = []
        languages: list[dict[int, float]] = []
        baseline = np.array([level_fit(0, lv, policy) for lv in range(N_LEVELS)], np.float32)

        for r, (cid, citizen) in enumerate(items):
            ids[r] = cid
            target_group[r] = TARGET_GROUP_CODE[citizen.target_group]
            if citizen.location is not None:
                lat[r], lon[r] = citizen.location.lat, citizen.location.lon
            elif citizen.postcode is not None:
                coords = postcodes.coordinates(citizen.postcode)
                if coords is None:
                    log.info("citizen %s: postcode %s unknown; geography will be neutral", cid, citizen.postcode)
                else:
                    lat[r], lon[r] = coords
            max_commute[r] = citizen.max_commute_km
            hours_min[r], hours_max[r] = citizen.hours.min, citizen.hours.max
            available[r] = day_number(citizen.available_from) if citizen.available_from else today_day
            licences[r] = licence_mask(licence_closure(frozenset(citizen.driving_licences)))

            row_skills: dict[int, float] = {}
            for claim in citizen.skills:
                uri = claim.effective_uri
                if uri is None:
                    continue
                col = skill_row.get(uri)
                if col is None:
                    log.warning("citizen %s: skill %s is not in the taxonomy; ignored", cid, uri)
                    continue
                if is_language[col]:
                    continue
                w = skill_weight(claim.provenance.value, claim.years, policy)
                row_skills[col] = max(row_skills.get(col, 0.0), w)
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
                isco = int(taxonomy.occupation_isco[orow])
                if isco >= 0:
                    row_unit[isco] = max(row_unit.get(isco, 0.0), f)
                    row_minor[isco // 10] = max(row_minor.get(isco // 10, 0.0), f)
            occ_exp.append(row_occ)
            unit_exp.append(row_unit)
            minor_exp.append(row_minor)

            fit = baseline.copy()
            row_auth: dict[int, float] = {}
            for q in citizen.qualifications:
                rw = recognition_weight(q.country, q.recognition, policy)
                fit = np.maximum(
                    fit, np.array([rw * level_fit(q.eqf_level, lv, policy) for lv in range(N_LEVELS)], np.float32)
                )
                if q.recognition is not Recognition.rejected:
                    best_eqf[r] = max(int(best_eqf[r]), q.eqf_level)
                if q.occupation_uri and is_recognised(q.country, q.recognition):
                    orow = occ_row.get(q.occupation_uri)
                    if orow is None:
                        log.warning("citizen %s: qualification occupation %s unknown; ignored", cid, q.occupation_uri)
                        continue
                    row_auth[orow] = 1.0
                    isco = int(taxonomy.occupation_isco[orow])
                    if isco >= 0:
                        row_auth[n_occ + isco] = 1.0
            qual_fit[r] = fit
            authorised.append(row_auth)

            row_lang: dict[int, float] = {}
            for lang in citizen.languages:
                row_lang[LANGUAGE_INDEX[lang.language]] = float(cefr_rank(lang.cefr))
                school[r] |= weekday_mask(lang.school_weekdays)
            languages.append(row_lang)

        x, y = project_km(lat, lon)
        known = ~np.isnan(lat)
        return cls(
            ids=ids,
            taxonomy_version=taxonomy.version,
            target_group=target_group,
            lat=lat,
            lon=lon,
            geo_x=np.where(known, x, 0.0).astype(np.float32),
            geo_y=np.where(known, y, 0.0).astype(np.float32),
            geo_known=known,
            max_commute_km=max_commute,
            skills=csr_from_dicts(skills, taxonomy.n_skills),
            occ_exp=csr_from_dicts(occ_exp, n_occ),
            isco_unit_exp=csr_from_dicts(unit_exp, ISCO_UNIT_CODES),
            isco_minor_exp=csr_from_dicts(minor_exp, ISCO_MINOR_CODES),
            authorised=csr_from_dicts(authorised, n_occ + ISCO_UNIT_CODES),
            qual_fit=qual_fit,
            best_eqf=best_eqf,
            languages=csr_from_dicts(languages, len(LANGUAGES)),
            school_days=school,
            hours_min=hours_min,
            hours_max=hours_max,
            licences=licences,
            available_day=available,
        )
