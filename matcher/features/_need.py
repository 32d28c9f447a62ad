"""Needs (vacancies, subsidised places, hybrid-internship slots) → columnar features (one row per need)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.domain import SkillRef, Vacancy, cefr_rank
from matcher.features._base import (
    CSR,
    LANGUAGE_INDEX,
    LANGUAGES,
    NEED_KIND_CODE,
    NO_EXPIRY_DAY,
    ROW,
    SHARED,
    FeatureInputError,
    FeatureTable,
    csr_from_dicts,
    day_number,
    geo_columns,
    licence_mask,
    weekday_mask,
)
from matcher.taxonomy import Postcodes, Taxonomy
from matcher.taxonomy._model import keep_top_k

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def top_related(taxonomy: Taxonomy, k: int) -> sp.csr_matrix:
    """``taxonomy.skill_related`` keeping the ``k`` strongest links per skill (ties: lower column first).

    Why a cap: every related link becomes a non-zero of the need's skill vector, and the skills product costs
    in proportion to those non-zeros; a few strong substitutes carry almost all the signal.
    """
    return keep_top_k(taxonomy.skill_related, k)


@lru_cache(maxsize=4)
def related_tuples(taxonomy: Taxonomy, k: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]:
    """:func:`top_related` as (indptr, indices, data) tuples of Python numbers: the build loop slices them per
    essential skill. Cached because converting the whole matrix costs ~1 ms, which was most of building the one
    row of an ad hoc search's need."""
    top = top_related(taxonomy, k)
    return tuple(top.indptr.tolist()), tuple(top.indices.tolist()), tuple(top.data.tolist())


def infer_level(isco: int, policy: ScoringPolicy) -> int:
    """Typical EQF level of an occupation from its ISCO major group (0 = unknown)."""
    if isco < 0:
        return 0
    return int(policy.isco_major_eqf.get(str(isco // 1000), 0))


@dataclasses.dataclass(frozen=True, eq=False)
class NeedFeatures(FeatureTable):
    """Needs as arrays. Build with :meth:`build`.

    Attributes (n = number of needs)
    --------------------------------
    today_day : int
        the day number the features were built for (concat keeps the latest): the expiry gate's "today".
    employer_id : int64; kind : int8 (index into ``tuple(NeedKind)``); positions : int32
    lat, lon : float64, NaN when unknown; geo_x, geo_y : float32 km; geo_known : bool
    essential, optional : CSR float32 (n × n_skills)
        1.0 per skill; the need's own lists, or its occupation's ESCO profile when it lists none
        (``skills_from_profile`` says so, per list: bit 0 essential, bit 1 optional).
    skill_vector : CSR float32 (n × n_skills)
        the one vector the skills component dots with a citizen's skills: essential skills normalised to sum
        to (1 − optional share), each also lending ``related_skill_credit`` × similarity to its strongest related
        skills, plus the optional skills normalised to the optional share (see docs/scoring.md).
    occupation : int32, −1 none; isco : int32, −1 none; regulated : bool
    level : int8
        the EQF level asked: ``min_eqf_level`` or, failing that, the typical level of the ISCO major group (0 none)
    min_eqf : int8 (0 none)
    lang_req : CSR float32 (n × len(LANGUAGES)) CEFR rank asked; lang_hard : CSR float32, 1 where hard
    lang_penalty : float32, language score lost per CEFR step (softened where the workplace gives support)
    language_support : bool
    weekdays : uint8 bitmask; n_days : int8; days_needed : int8 (weekly hours / hours_per_day, rounded up)
    hours : float32, NaN when not stated (hybrid: paid + internship)
    licences : uint16 bitmask of required categories
    start_day, expires_day : int32 (start = build day when not given; expires = far future when not given)
    """

    today_day: int = field(metadata=SHARED)
    employer_id: np.ndarray = field(metadata=ROW)
    kind: np.ndarray = field(metadata=ROW)
    positions: np.ndarray = field(metadata=ROW)
    lat: np.ndarray = field(metadata=ROW)
    lon: np.ndarray = field(metadata=ROW)
    geo_x: np.ndarray = field(metadata=ROW)
    geo_y: np.ndarray = field(metadata=ROW)
    geo_known: np.ndarray = field(metadata=ROW)
    essential: sp.csr_matrix = field(metadata=CSR)
    optional: sp.csr_matrix = field(metadata=CSR)
    skill_vector: sp.csr_matrix = field(metadata=CSR)
    skills_from_profile: np.ndarray = field(metadata=ROW)
    occupation: np.ndarray = field(metadata=ROW)
    isco: np.ndarray = field(metadata=ROW)
    regulated: np.ndarray = field(metadata=ROW)
    level: np.ndarray = field(metadata=ROW)
    min_eqf: np.ndarray = field(metadata=ROW)
    lang_req: sp.csr_matrix = field(metadata=CSR)
    lang_hard: sp.csr_matrix = field(metadata=CSR)
    lang_penalty: np.ndarray = field(metadata=ROW)
    language_support: np.ndarray = field(metadata=ROW)
    weekdays: np.ndarray = field(metadata=ROW)
    n_days: np.ndarray = field(metadata=ROW)
    days_needed: np.ndarray = field(metadata=ROW)
    hours: np.ndarray = field(metadata=ROW)
    licences: np.ndarray = field(metadata=ROW)
    start_day: np.ndarray = field(metadata=ROW)
    expires_day: np.ndarray = field(metadata=ROW)

    side = "need"

    @classmethod
    def build(
        cls,
        items: Sequence[tuple[int, Vacancy]],
        taxonomy: Taxonomy,
        postcodes: Postcodes,
        policy: ScoringPolicy,
        today: dt.date,
    ) -> NeedFeatures:
        """Turn ``(id, vacancy)`` pairs into one table.

        Raises :class:`FeatureInputError` for a need with neither usable skills nor a known occupation: there
        is nothing to match on, and a silent all-zero row would hide the mistake.
        """
        n = len(items)
        skill_row = taxonomy.skill_row
        occ_row = taxonomy.occupation_row
        is_language = np.asarray(taxonomy.skill_is_language, dtype=bool)
        related = related_tuples(taxonomy, policy.related_skill_top_k)
        credit = policy.related_skill_credit
        today_day = day_number(today)

        ids = np.empty(n, np.int64)
        employer = np.empty(n, np.int64)
        kind = np.empty(n, np.int8)
        positions = np.empty(n, np.int32)
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        from_profile = np.zeros(n, np.uint8)
        occupation = np.full(n, -1, np.int32)
        isco = np.full(n, -1, np.int32)
        regulated = np.zeros(n, bool)
        level = np.zeros(n, np.int8)
        min_eqf = np.zeros(n, np.int8)
        lang_penalty = np.empty(n, np.float32)
        support = np.zeros(n, bool)
        weekdays = np.zeros(n, np.uint8)
        n_days = np.zeros(n, np.int8)
        days_needed = np.zeros(n, np.int8)
        hours = np.full(n, np.nan, np.float32)
        licences = np.zeros(n, np.uint16)
        start = np.empty(n, np.int32)
        expires = np.full(n, NO_EXPIRY_DAY, np.int32)
        essential: list[dict[int, float]] = []
        optional: list[dict[int, float]] = []
        vectors: list[dict[int, float]] = []
        lang_req: list[dict[int, float]] = []
        lang_hard: list[dict[int, float]] = []

        def skill_cols(nid: int, refs: list[SkillRef]) -> dict[int, float]:
            out: dict[int, float] = {}
            for ref in refs:
                uri = ref.effective_uri
                if uri is None:
                    continue
                col = skill_row.get(uri)
                if col is None:
                    log.warning("need %s: skill %s is not in the taxonomy; ignored", nid, uri)
                elif not is_language[col]:
                    out[col] = 1.0
            return out

        def profile_cols(matrix: sp.csr_matrix, orow: int) -> dict[int, float]:
            lo, hi = matrix.indptr[orow], matrix.indptr[orow + 1]
            return {int(c): 1.0 for c in matrix.indices[lo:hi] if not is_language[c]}

        for r, (nid, need) in enumerate(items):
            ids[r] = nid
            employer[r] = need.employer_id
            kind[r] = NEED_KIND_CODE[need.kind]
            positions[r] = need.positions
            if need.location is not None:
                lat[r], lon[r] = need.location.lat, need.location.lon
            elif need.postcode is not None:
                coords = postcodes.coordinates(need.postcode)
                if coords is None:
                    log.info("need %s: postcode %s unknown; geography will be neutral", nid, need.postcode)
                else:
                    lat[r], lon[r] = coords

            occ_uri = need.occupation_uri or (need.occupation_resolved.uri if need.occupation_resolved else None)
            orow = occ_row.get(occ_uri, -1) if occ_uri else -1
            if occ_uri and orow < 0:
                log.warning("need %s: occupation %s is not in the taxonomy; ignored", nid, occ_uri)
            ess = skill_cols(nid, need.essential_skills)
            opt = skill_cols(nid, need.optional_skills)
            if orow >= 0:
                occupation[r] = orow
                isco[r] = int(taxonomy.occupation_isco[orow])
                regulated[r] = bool(taxonomy.occupation_regulated[orow])
                if not ess:
                    ess = profile_cols(taxonomy.occ_essential, orow)
                    from_profile[r] |= 1
                if not opt:
                    opt = profile_cols(taxonomy.occ_optional, orow)
                    from_profile[r] |= 2
            if not ess and not opt and orow < 0:
                raise FeatureInputError(
                    f"need {nid} ({need.title!r}): give essential_skills or optional_skills, or an occupation "
                    "(occupation_uri, or a title that resolves to one); none of them could be used"
                )
            essential.append(ess)
            optional.append(opt)
            vectors.append(_skill_vector(ess, opt, related, credit, policy.optional_skill_share))

            min_eqf[r] = need.min_eqf_level or 0
            level[r] = need.min_eqf_level or infer_level(int(isco[r]), policy)

            req: dict[int, float] = {}
            hard: dict[int, float] = {}
            for lr in need.languages:
                col = LANGUAGE_INDEX[lr.language]
                req[col] = float(cefr_rank(lr.cefr))
                if lr.hard:
                    hard[col] = 1.0
            lang_req.append(req)
            lang_hard.append(hard)
            support[r] = need.language_support
            softening = policy.language_support_softening if need.language_support else 0.0
            lang_penalty[r] = policy.language_gap_penalty * (1.0 - softening)

            weekdays[r] = weekday_mask(need.weekdays)
            n_days[r] = len(need.weekdays)
            if need.hours_per_week is not None:
                hours[r] = need.hours_per_week
                days_needed[r] = min(int(n_days[r]), max(1, math.ceil(need.hours_per_week / policy.hours_per_day)))
            else:
                days_needed[r] = n_days[r]
            licences[r] = licence_mask(need.driving_licences)
            start[r] = day_number(need.start_date) if need.start_date else today_day
            if need.expires is not None:
                expires[r] = day_number(need.expires)

        n_skills = taxonomy.n_skills
        return cls(
            ids=ids,
            taxonomy_version=taxonomy.version,
            today_day=today_day,
            employer_id=employer,
            kind=kind,
            positions=positions,
            **geo_columns(lat, lon),
            essential=csr_from_dicts(essential, n_skills),
            optional=csr_from_dicts(optional, n_skills),
            skill_vector=csr_from_dicts(vectors, n_skills),
            skills_from_profile=from_profile,
            occupation=occupation,
            isco=isco,
            regulated=regulated,
            level=level,
            min_eqf=min_eqf,
            lang_req=csr_from_dicts(lang_req, len(LANGUAGES)),
            lang_hard=csr_from_dicts(lang_hard, len(LANGUAGES)),
            lang_penalty=lang_penalty,
            language_support=support,
            weekdays=weekdays,
            n_days=n_days,
            days_needed=days_needed,
            hours=hours,
            licences=licences,
            start_day=start,
            expires_day=expires,
        )


def _skill_vector(
    essential: dict[int, float],
    optional: dict[int, float],
    related: tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]],
    credit: float,
    optional_share: float,
) -> dict[int, float]:
    """The need's side of the skills dot product (see :class:`NeedFeatures`, ``skill_vector``).

    Each essential skill is worth ``w_e = (1 − share) / |essential|``; a related skill of it is worth
    ``credit × similarity × w_e`` (max over the essential skills it is related to, never more than an essential
    skill itself). A citizen's skill therefore counts at most once per need, and a citizen holding every
    essential and optional skill scores exactly 1. With no optional skills the
    essential ones carry the whole weight, and vice versa.
    """
    share = optional_share if essential and optional else (1.0 if optional else 0.0)
    out: dict[int, float] = {}
    if essential:
        w_e = (1.0 - share) / len(essential)
        if credit > 0:
            indptr, indices, data = related
            for col in essential:
                lo, hi = indptr[col], indptr[col + 1]
                for rc, sim in zip(indices[lo:hi], data[lo:hi], strict=True):
                    if rc not in essential:
                        value = credit * sim * w_e
                        if value > out.get(rc, 0.0):
                            out[rc] = value
        for col in essential:
            out[col] = w_e
    if optional:
        w_o = share / len(optional)
        for col in optional:
            # an optional skill that is also related to an essential one is worth the larger of the two
            out[col] = out[col] + w_o if col in essential else max(out.get(col, 0.0), w_o)
    return out
