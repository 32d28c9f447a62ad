"""Explanations: 2–5 short sentences per pair, in Danish and English, most important first.

Per-pair Python, so only for the top results a consultant looks at — never for the full score matrix. The
component values and gates come from the scorer; the small facts behind them (which essential skills are
covered, the distance in km, the school days) are worked out here from the domain objects: what depends on one
side only once per need (:class:`NeedText`, per ranked list) and once per citizen profile (:class:`CitizenText`,
kept on the profile), the rest per pair.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from matcher.config import ScoringPolicy
from matcher.domain import (
    CEFR_ORDER,
    Citizen,
    Explanation,
    NeedKind,
    Recognition,
    Vacancy,
    Weekday,
    cefr_rank,
    licence_closure,
)
from matcher.features._citizen import is_recognised
from matcher.features._need import related_tuples
from matcher.scoring._base import Gate
from matcher.scoring._names import MONTH_DA, MONTH_EN, country_name, join_words, language_name, weekday_names
from matcher.taxonomy import Postcodes, Taxonomy, haversine_km_points, point_radians

MAX_SENTENCES = 5


def _date_da(day: dt.date) -> str:
    return f"{day.day}. {MONTH_DA[day.month - 1]} {day.year}"


def _date_en(day: dt.date) -> str:
    return f"{day.day} {MONTH_EN[day.month - 1]} {day.year}"


def _cap(text: str) -> str:
    """First letter upper-case, the rest untouched (str.capitalize would turn "IT-supporter" into "It-supporter")."""
    return text[:1].upper() + text[1:]


def _cefr(rank: int) -> str:
    return CEFR_ORDER[rank - 1].value if rank > 0 else "-"


def _num(value: float) -> str:
    return f"{value:g}"


_WEEKDAY_POSITION = {day: i for i, day in enumerate(Weekday)}
# Plain-int gate bits for the tests below: IntFlag's own ``&`` builds an enum member each time (~6 µs), and an
# explanation makes a dozen such tests.
_BITS_CAPACITY = int(Gate.CAPACITY)
_BITS_COMMUTE = int(Gate.COMMUTE)
_BITS_DRIVING_LICENCE = int(Gate.DRIVING_LICENCE)
_BITS_EXPIRED = int(Gate.EXPIRED)
_BITS_HOURS = int(Gate.HOURS)
_BITS_LANGUAGE = int(Gate.LANGUAGE)
_BITS_MIN_EQF_LEVEL = int(Gate.MIN_EQF_LEVEL)
_BITS_REGULATED_PROFESSION = int(Gate.REGULATED_PROFESSION)
_BITS_SCHEDULE_CLASH = int(Gate.SCHEDULE_CLASH)


def _occupation_label(uri: str | None, taxonomy: Taxonomy, lang: str, fallback: str) -> str:
    row = taxonomy.occupation_row.get(uri) if uri else None
    if row is None:
        return fallback
    if lang == "da" and taxonomy.occupation_labels_da[row]:
        return taxonomy.occupation_labels_da[row]
    return taxonomy.occupation_labels[row]


def _coords(postcode: str | None, location: object, postcodes: Postcodes) -> tuple[float, float] | None:
    if location is not None:
        return (float(location.lat), float(location.lon))  # type: ignore[attr-defined]
    return postcodes.coordinates(postcode) if postcode else None


@dataclass(frozen=True)
class NeedText:
    """What the explanations of one need's pairs take from the need alone, worked out once: a ranked list explains
    many citizens against the same need. Make it with :func:`need_text`."""

    occupation_uri: str | None
    occupation_da: str
    occupation_en: str
    essential: tuple[str, ...]  # essential skill URIs (from the ESCO profile when the need lists none), no languages
    from_profile: bool
    wanted: tuple[str, ...]  # optional skill URIs, no languages (used when there are no essential ones)
    coordinates: tuple[float, float] | None
    radians: tuple[float, float, float] | None  # as CitizenText.radians
    languages: tuple[LanguageText, ...]  # the need's language requirements, in its order


@dataclass(frozen=True)
class LanguageText:
    """One language requirement of a need, as its explanations write it."""

    language: str  # ISO code
    rank: int  # CEFR rank asked (1 = A1 … 6 = C2)
    cefr: str  # the level asked, as written ("B1")
    hard: bool
    name_da: str
    name_da_cap: str  # sentence-initial
    name_en: str


def need_text(need: Vacancy, taxonomy: Taxonomy, postcodes: Postcodes) -> NeedText:
    """The need side of :func:`explain`, for passing to it as ``about_need`` when explaining many pairs."""
    need_occ = need.occupation_uri or (need.occupation_resolved.uri if need.occupation_resolved else None)
    essential = [r.effective_uri for r in need.essential_skills if r.effective_uri]
    from_profile = False
    occ_row = taxonomy.occupation_row.get(need_occ) if need_occ else None
    if not essential and occ_row is not None:
        lo, hi = taxonomy.occ_essential.indptr[occ_row], taxonomy.occ_essential.indptr[occ_row + 1]
        essential = [taxonomy.skill_uris[c] for c in taxonomy.occ_essential.indices[lo:hi]]
        from_profile = True
    wanted = dict.fromkeys(r.effective_uri for r in need.optional_skills if r.effective_uri)
    there = _coords(need.postcode, need.location, postcodes)
    return NeedText(
        occupation_uri=need_occ,
        occupation_da=_occupation_label(need_occ, taxonomy, "da", need.title),
        occupation_en=_occupation_label(need_occ, taxonomy, "en", need.title),
        essential=tuple(u for u in dict.fromkeys(essential) if not _is_language_skill(u, taxonomy)),
        from_profile=from_profile,
        wanted=tuple(u for u in wanted if u is not None and not _is_language_skill(u, taxonomy)),
        coordinates=there,
        radians=None if there is None else point_radians(*there),
        languages=tuple(
            LanguageText(
                language=req.language, rank=cefr_rank(req.cefr), cefr=f"{req.cefr}", hard=req.hard,
                name_da=language_name(req.language, "da"), name_da_cap=_cap(language_name(req.language, "da")),
                name_en=language_name(req.language, "en"),
            )
            for req in need.languages
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class CitizenText:
    """What the explanations of one citizen's pairs take from the citizen alone, worked out once per profile
    and kept in its :attr:`~matcher.domain.Citizen.derived` memo (so it goes when the profile is replaced or
    erased): a citizen is explained against many needs. :func:`citizen_text` makes or finds it."""

    spoken: dict[str, int]  # language code → CEFR rank
    school: tuple[Weekday, ...]  # language-school days, Monday first
    school_da: str
    school_en: str
    foreign: tuple[int, str, str] | None  # (EQF level, Danish, English country name) of the best unrecognised one
    occupations: tuple[tuple[str, float | None], ...]  # (occupation URI, years) of the past occupations
    radians: tuple[float, float, float] | None  # latitude, cosine of the latitude and longitude, in radians
    hours: tuple[str, str]  # the weekly hours range, as written
    max_commute: str
    available_da: str
    available_en: str


_CITIZEN_TEXT = object()
"""The key of :class:`CitizenText` in a citizen's ``derived`` memo."""


def citizen_text(citizen: Citizen, postcodes: Postcodes) -> CitizenText:
    """The citizen side of :func:`explain`: from the profile's memo, or worked out and kept there."""
    memo = citizen.derived
    found = memo.get(_CITIZEN_TEXT)
    if found is not None and found[0] is postcodes:
        return found[1]
    school = sorted({d for lang in citizen.languages for d in lang.school_weekdays}, key=_WEEKDAY_POSITION.__getitem__)
    foreign = [
        q for q in citizen.qualifications
        if not is_recognised(q.country, q.recognition) and q.recognition is not Recognition.rejected
    ]  # fmt: skip
    best = max(foreign, key=lambda q: q.eqf_level) if foreign else None
    here = _coords(citizen.postcode, citizen.location, postcodes)
    day = citizen.available_from
    text = CitizenText(
        spoken={lang.language: cefr_rank(lang.cefr) for lang in citizen.languages},
        school=tuple(school),
        school_da=weekday_names(school, "da") if school else "",
        school_en=weekday_names(school, "en") if school else "",
        foreign=None if best is None else (best.eqf_level, country_name(best.country, "da"),
                                           country_name(best.country, "en")),
        occupations=tuple((uri, claim.years) for claim in citizen.occupations if (uri := claim.effective_uri)),
        radians=None if here is None else point_radians(*here),
        hours=(_num(citizen.hours.min), _num(citizen.hours.max)),
        max_commute=_num(citizen.max_commute_km),
        available_da=_date_da(day) if day else "",
        available_en=_date_en(day) if day else "",
    )  # fmt: skip
    memo[_CITIZEN_TEXT] = (postcodes, text)
    return text


def explain(
    citizen: Citizen,
    need: Vacancy,
    components: dict[str, float],
    gates: int,
    taxonomy: Taxonomy,
    postcodes: Postcodes,
    policy: ScoringPolicy,
    about_need: NeedText | None = None,
) -> Explanation:
    """Two to five sentences (Danish and English) on why ``citizen`` scores as it does for ``need``.

    ``components`` and ``gates`` are the pair's values from :meth:`Scorer.score_block`. Broken gates come first
    (they decide), then the components that moved the score most (weight × distance from neutral).
    ``about_need``: :func:`need_text` of ``need``, when the caller explains several pairs of the same need.
    """
    about = about_need if about_need is not None else need_text(need, taxonomy, postcodes)
    facts = citizen_text(citizen, postcodes)
    weights = vars(policy.weights)  # read only; a plain dict of the model's fields, without a copy
    need_occ = about.occupation_uri
    occ_da, occ_en = about.occupation_da, about.occupation_en
    out: list[tuple[float, str, str]] = []  # (priority, Danish, English)

    def add(priority: float, da: str, en: str) -> None:
        out.append((priority, da, en))

    def impact(name: str) -> float:
        value = components.get(name, 0.5)
        return float(weights.get(name, 0.0)) * (0.5 + abs(value - 0.5))

    # ---------------------------------------------------------------------------------------- gates
    if gates & _BITS_REGULATED_PROFESSION:
        add(
            100,
            f"{_cap(occ_da)} er et reguleret erhverv i Danmark: kræver dansk autorisation",
            f"{_cap(occ_en)} is a regulated profession in Denmark: requires Danish authorisation",
        )
    if gates & _BITS_EXPIRED and need.expires:
        add(99, f"Opslaget udløb {_date_da(need.expires)}", f"The posting expired on {_date_en(need.expires)}")
    if gates & _BITS_CAPACITY:
        add(99, "Ingen ledige pladser lige nu", "No open positions right now")
    if gates & _BITS_DRIVING_LICENCE:
        held_licences = licence_closure(frozenset(citizen.driving_licences))
        missing = [lic.value for lic in need.driving_licences if lic not in held_licences]
        add(
            98,
            f"Kræver kørekort {join_words(missing, 'da')}, som mangler",
            f"Requires driving licence {join_words(missing, 'en')}, which is missing",
        )
    if gates & _BITS_MIN_EQF_LEVEL and need.min_eqf_level:
        add(
            97,
            f"Kræver uddannelse på mindst EQF {need.min_eqf_level}",
            f"Requires a qualification at EQF level {need.min_eqf_level} or above",
        )

    # ---------------------------------------------------------------------------------------- skills
    held = citizen.held_skills
    essential, from_profile = about.essential, about.from_profile
    if essential:
        missing = [u for u in essential if u not in held]
        covered = len(essential) - len(missing)
        partial = _related_count(missing, held, taxonomy, policy)
        da = f"Har {covered} af {len(essential)} nødvendige kompetencer"
        en = f"Has {covered} of {len(essential)} essential skills"
        if partial:
            da += f" og beslægtede kompetencer til {partial} mere"
            en += f", and related skills for {partial} more"
        if from_profile:
            da += f" (fra ESCO-profilen for {occ_da})"
            en += f" (from the ESCO profile of {occ_en})"
        add(50 + impact("skills"), da, en)
    else:
        wanted = about.wanted
        if wanted:
            have = sum(1 for u in wanted if u in held)
            add(50 + impact("skills"), f"Har {have} af {len(wanted)} ønskede kompetencer",
                f"Has {have} of {len(wanted)} optional skills")  # fmt: skip

    # ---------------------------------------------------------------------------------------- experience
    if components.get("experience", 0.0) > 0 and need_occ:
        best = _best_experience(facts.occupations, need_occ, taxonomy)
        if best is not None:
            uri, years, same = best
            label_da = _occupation_label(uri, taxonomy, "da", uri)
            label_en = _occupation_label(uri, taxonomy, "en", uri)
            yrs_da = f" i {_num(years)} år" if years else ""
            yrs_en = f" for {_num(years)} years" if years else ""
            if same:
                add(10 + impact("experience"), f"Har arbejdet som {label_da}{yrs_da}",
                    f"Has worked as {label_en}{yrs_en}")  # fmt: skip
            else:
                add(10 + impact("experience"), f"Erfaring fra et beslægtet fag: {label_da}{yrs_da}",
                    f"Experience in a related occupation: {label_en}{yrs_en}")  # fmt: skip

    # ---------------------------------------------------------------------------------------- qualification
    if facts.foreign is not None:
        level, country_da, country_en = facts.foreign
        add(
            20 + impact("qualification"),
            f"Uddannelse fra {country_da} (EQF {level}) er ikke godkendt endnu og tæller med nedsat vægt",
            f"Qualification from {country_en} (EQF {level}) is not recognised yet and counts with reduced weight",
        )
    if components.get("overqualification", 0.0) >= 0.99:
        add(
            5,
            "Har en uddannelse langt over jobbets niveau",
            "Has a qualification far above the job's level",
        )

    # ---------------------------------------------------------------------------------------- language
    spoken = facts.spoken
    for req in about.languages:
        have = spoken.get(req.language, 0)
        if have >= req.rank:
            add(5 + impact("language"), f"{req.name_da_cap} på niveau {_cefr(have)} opfylder kravet ({req.cefr})",
                f"{req.name_en} at level {_cefr(have)} meets the requirement ({req.cefr})")  # fmt: skip
            continue
        gated = bool(gates & _BITS_LANGUAGE) and req.hard
        if have:
            da = f"{req.name_da_cap} på niveau {_cefr(have)}; jobbet kræver {req.cefr}"
            en = f"{req.name_en} at level {_cefr(have)}; the job asks for {req.cefr}"
        else:
            da = f"Intet kendt niveau i {req.name_da}; jobbet kræver {req.cefr}"
            en = f"No known level of {req.name_en}; the job asks for {req.cefr}"
        if gated:
            da += " (ufravigeligt krav)"
            en += " (a firm requirement)"
        elif need.language_support:
            da += " (arbejdspladsen tilbyder sprogstøtte)"
            en += " (the workplace offers language support)"
        add(95 if gated else 30 + impact("language"), da, en)

    # ---------------------------------------------------------------------------------------- schedule
    school = facts.school
    if school:
        clash = [d for d in school if d in need.weekdays]
        days_da, days_en = facts.school_da, facts.school_en
        if components.get("schedule", 1.0) >= 0.999 or not clash:
            add(25 + impact("schedule"), f"Sprogskole {days_da} passer med arbejdsdagene",
                f"Language school on {days_en} fits the working days")  # fmt: skip
        else:
            add(40 + impact("schedule") + (55 if gates & _BITS_SCHEDULE_CLASH else 0),
                f"Sprogskole {days_da} falder på arbejdsdage",
                f"Language school on {days_en} falls on working days")  # fmt: skip
    if need.hours_per_week is not None:
        h = need.hours_per_week
        if h > citizen.hours.max or h < citizen.hours.min:
            lo, hi = facts.hours
            add(
                96 if gates & _BITS_HOURS else 35 + impact("schedule"),
                f"Kan arbejde {lo}–{hi} timer om ugen; jobbet er på {_num(h)} timer",
                f"Can work {lo}–{hi} hours a week; the job is {_num(h)} hours",
            )
    if need.kind is NeedKind.hybrid_internship and need.hybrid is not None:
        hy = need.hybrid
        add(
            15,
            f"Hybridpraktik: {_num(hy.paid_hours)} lønnede timer + {_num(hy.internship_hours)} praktiktimer om "
            f"ugen i {hy.weeks} uger",
            f"Hybrid internship: {_num(hy.paid_hours)} paid hours + {_num(hy.internship_hours)} internship hours "
            f"a week for {hy.weeks} weeks",
        )

    # ---------------------------------------------------------------------------------------- geography
    here, there = facts.radians, about.radians
    if here is None or there is None:
        add(
            45,
            "Postnummer ukendt: afstand ikke vurderet",
            "Postcode unknown: distance not assessed",
        )
    else:
        km = haversine_km_points(here, there)
        km_txt = f"{km:.0f}" if km >= 1 else "under 1"
        km_en = f"{km:.0f}" if km >= 1 else "less than 1"
        add(
            97 if gates & _BITS_COMMUTE else 8 + impact("geography"),
            f"Bor {km_txt} km fra arbejdspladsen (maks. {facts.max_commute} km)",
            f"Lives {km_en} km from the workplace (max. {facts.max_commute} km)",
        )

    # ---------------------------------------------------------------------------------------- availability
    start = need.start_date
    if citizen.available_from and start and citizen.available_from > start:
        wait = (citizen.available_from - start).days
        add(
            6 + impact("availability"),
            f"Kan starte {facts.available_da}, {wait} dage efter jobstart",
            f"Can start on {facts.available_en}, {wait} days after the job starts",
        )

    if len(out) < 2:  # the contract is two to five sentences: fall back on the overall score
        wsum = sum(weights.values()) or 1.0
        score = sum(w * components.get(k, 0.0) for k, w in weights.items()) / wsum
        pct = round(100 * score) if not gates else 0
        add(0, f"Samlet vurdering: {pct} %", f"Overall score: {pct} %")
    out.sort(key=itemgetter(0), reverse=True)  # stable: equal priorities keep the order they were added in
    chosen = out[:MAX_SENTENCES]
    return Explanation(da=[da for _, da, _ in chosen], en=[en for _, _, en in chosen])


def _is_language_skill(uri: str, taxonomy: Taxonomy) -> bool:
    row = taxonomy.skill_row.get(uri)
    return row is not None and bool(taxonomy.skill_is_language[row])


def _related_count(missing: list[str], held: frozenset[str], taxonomy: Taxonomy, policy: ScoringPolicy) -> int:
    """How many missing essential skills the citizen partly covers through a related skill."""
    if not missing or not held or policy.related_skill_credit <= 0:
        return 0
    related = _related_uris(taxonomy, policy.related_skill_top_k)
    count = 0
    for uri in missing:
        near = related.get(uri)
        if near is None:
            near = related[uri] = _near_uris(uri, taxonomy, policy.related_skill_top_k)
        if not near.isdisjoint(held):
            count += 1
    return count


@lru_cache(maxsize=4)
def _related_uris(taxonomy: Taxonomy, k: int) -> dict[str, frozenset[str]]:
    """Per skill URI, the URIs of its ``k`` strongest related skills (the links the skills score credits),
    filled in as explanations ask: a set lookup against the citizen's skills then replaces turning the
    citizen's skills into taxonomy rows on every explanation. Entries are computed from immutable data, so two
    threads filling the same one write equal values."""
    return {}


def _near_uris(uri: str, taxonomy: Taxonomy, k: int) -> frozenset[str]:
    row = taxonomy.skill_row.get(uri)
    if row is None:
        return frozenset()
    indptr, indices, _ = related_tuples(taxonomy, k)
    uris = taxonomy.skill_uris
    return frozenset(uris[c] for c in indices[indptr[row] : indptr[row + 1]])


@lru_cache(maxsize=4)
def _isco_by_uri(taxonomy: Taxonomy) -> dict[str, int]:
    """Occupation URI → ISCO code (-1 unknown) as plain ints: reading them off the numpy array one by one cost
    more than the rest of :func:`_best_experience`."""
    return dict(zip(taxonomy.occupation_uris, taxonomy.occupation_isco.tolist(), strict=True))


def _best_experience(
    occupations: tuple[tuple[str, float | None], ...], need_occ: str, taxonomy: Taxonomy
) -> tuple[str, float | None, bool] | None:
    """The past occupation (URI, years) behind the experience score: same concept first, then the closest ISCO
    group."""
    isco_of = _isco_by_uri(taxonomy)
    target_isco = isco_of.get(need_occ, -1)
    best: tuple[int, str, float | None] | None = None
    for uri, years in occupations:
        isco = isco_of.get(uri)
        if isco is None:
            continue
        if uri == need_occ:
            rank = 3
        elif isco >= 0 and isco == target_isco:
            rank = 2
        elif isco >= 0 and target_isco >= 0 and isco // 10 == target_isco // 10:
            rank = 1
        else:
            continue
        if best is None or rank > best[0] or (rank == best[0] and (years or 0) > (best[2] or 0)):
            best = (rank, uri, years)
    if best is None:
        return None
    return best[1], best[2], best[0] == 3
