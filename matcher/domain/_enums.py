"""Enumerations of the domain. Their string values are part of the JSON contract."""

from __future__ import annotations

from enum import StrEnum


class TargetGroup(StrEnum):
    """The citizen's benefit group (målgruppe) at the job centre."""

    jobparat = "jobparat"
    aktivitetsparat = "aktivitetsparat"
    sygedagpenge = "sygedagpenge"
    integration = "integration"
    uddannelseshjaelp = "uddannelseshjaelp"
    ledighedsydelse = "ledighedsydelse"
    ressourceforloeb = "ressourceforloeb"
    jobafklaring = "jobafklaring"
    dagpenge = "dagpenge"
    other = "other"


class Provenance(StrEnum):
    """Where a skill claim comes from; later members are stronger evidence."""

    self_reported = "self_reported"
    from_qualification = "from_qualification"
    assessed = "assessed"
    observed_in_internship = "observed_in_internship"


class Recognition(StrEnum):
    """Recognition status of a (usually foreign) qualification in Denmark."""

    recognised = "recognised"
    partial = "partial"
    pending = "pending"
    not_assessed = "not_assessed"
    undocumented = "undocumented"
    rejected = "rejected"


class NeedKind(StrEnum):
    """What kind of need an employer posts."""

    ordinary = "ordinary"
    flexjob = "flexjob"
    igu = "igu"
    internship = "internship"
    wage_subsidy = "wage_subsidy"
    apprenticeship = "apprenticeship"
    hybrid_internship = "hybrid_internship"


class CEFR(StrEnum):
    """Common European Framework of Reference level. Compare with :func:`cefr_rank`."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


CEFR_ORDER: tuple[CEFR, ...] = tuple(CEFR)

# Danish test names people write instead of a CEFR level (see data/notes/). PD1's written part is A2 and its
# oral part B1; we take the conservative A2.
CEFR_ALIASES: dict[str, CEFR] = {
    "PD1": CEFR.A2,
    "PD2": CEFR.B1,
    "PD3": CEFR.B2,
    "STUDIEPROEVEN": CEFR.C1,
    "STUDIEPRØVEN": CEFR.C1,
    "SP": CEFR.C1,
    "NATIVE": CEFR.C2,
    "MODERSMÅL": CEFR.C2,
    "MODERSMAAL": CEFR.C2,
}


def cefr_rank(level: CEFR | None) -> int:
    """0 for no level, 1 for A1 … 6 for C2."""
    return 0 if level is None else CEFR_ORDER.index(level) + 1


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


WEEKDAY_ORDER: tuple[Weekday, ...] = tuple(Weekday)


class DrivingLicence(StrEnum):
    """EU driving-licence categories (Directive 2006/126/EC) plus Danish tractor category T."""

    AM = "AM"
    A1 = "A1"
    A2 = "A2"
    A = "A"
    B = "B"
    BE = "BE"
    C1 = "C1"
    C1E = "C1E"
    C = "C"
    CE = "CE"
    D1 = "D1"
    D1E = "D1E"
    D = "D"
    DE = "DE"
    T = "T"


# A licence also grants the categories listed here (Directive 2006/126/EC art. 6), so a CE holder meets a C or B
# requirement.
LICENCE_IMPLIES: dict[DrivingLicence, frozenset[DrivingLicence]] = {
    DrivingLicence.A: frozenset({DrivingLicence.A2, DrivingLicence.A1, DrivingLicence.AM}),
    DrivingLicence.A2: frozenset({DrivingLicence.A1, DrivingLicence.AM}),
    DrivingLicence.A1: frozenset({DrivingLicence.AM}),
    DrivingLicence.B: frozenset({DrivingLicence.AM}),
    DrivingLicence.BE: frozenset({DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.C1: frozenset({DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.C1E: frozenset({DrivingLicence.C1, DrivingLicence.BE, DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.C: frozenset({DrivingLicence.C1, DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.CE: frozenset(
        {DrivingLicence.C, DrivingLicence.C1, DrivingLicence.C1E, DrivingLicence.BE, DrivingLicence.B,
         DrivingLicence.AM}
    ),
    DrivingLicence.D1: frozenset({DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.D1E: frozenset({DrivingLicence.D1, DrivingLicence.BE, DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.D: frozenset({DrivingLicence.D1, DrivingLicence.B, DrivingLicence.AM}),
    DrivingLicence.DE: frozenset(
        {DrivingLicence.D, DrivingLicence.D1, DrivingLicence.D1E, DrivingLicence.BE, DrivingLicence.B,
         DrivingLicence.AM}
    ),
    DrivingLicence.T: frozenset(),
    DrivingLicence.AM: frozenset(),
}


def licence_closure(licences: set[DrivingLicence] | frozenset[DrivingLicence]) -> frozenset[DrivingLicence]:
    """All categories a holder of ``licences`` may drive."""
    out: set[DrivingLicence] = set(licences)
    for lic in licences:
        out |= LICENCE_IMPLIES.get(lic, frozenset())
    return frozenset(out)


class FeedbackKind(StrEnum):
    """Outcome or consultant override recorded against a citizen–need pair."""

    contacted = "contacted"
    interviewed = "interviewed"
    hired = "hired"
    rejected = "rejected"
    pinned = "pinned"
    hidden = "hidden"
