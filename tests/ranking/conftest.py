"""Fixtures of the ranking tests: light feature stand-ins and a stand-in scorer with ties and gates, so the
blocked top-k can be checked against brute force independently of the real scorer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, NeedKind, TargetGroup, Vacancy
from matcher.ranking import MatchEngine
from matcher.scoring import COMPONENTS, Gate, ScoreBlock, Scorer
from matcher.taxonomy import LabelTable, Postcodes, Taxonomy, haversine_km


@dataclass(frozen=True, eq=False)
class FakeCitizens:
    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    max_commute_km: np.ndarray
    skills: sp.csr_matrix

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class FakeNeeds:
    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    essential: sp.csr_matrix

    @property
    def n(self) -> int:
        return len(self.ids)


class StandInScorer(Scorer):
    """Skill overlap and distance, coarsely quantised so that ties are common; a commute gate on the exact
    distance and an id-based 'hours' gate so that some near pairs are barred too."""

    def score_block(self, citizens, c_rows, needs, n_rows):  # type: ignore[no-untyped-def,override]
        skills = (citizens.skills[c_rows] @ needs.essential[n_rows].T).toarray().astype(np.float32)
        skills = np.minimum(skills, 1.0)
        dist = haversine_km(
            citizens.lat[c_rows][:, None], citizens.lon[c_rows][:, None],
            needs.lat[n_rows][None, :], needs.lon[n_rows][None, :],
        )
        reach = citizens.max_commute_km[c_rows][:, None].astype(np.float64)
        known = np.isfinite(dist)
        geo = np.where(known, np.clip(1 - dist / reach, 0, 1), 0.5).astype(np.float32)
        gates = np.zeros(skills.shape, dtype=np.uint16)
        gates[known & (dist > reach)] |= np.uint16(Gate.COMMUTE)
        cid = citizens.ids[c_rows][:, None]
        nid = needs.ids[n_rows][None, :]
        gates[(cid * 7 + nid * 3) % 11 == 0] |= np.uint16(Gate.HOURS)
        total = np.round((0.6 * skills + 0.4 * geo) * 8) / 8
        total = np.where(gates != 0, 0, total).astype(np.float32)
        components = {name: skills if name == "skills" else geo for name in COMPONENTS}
        components["overqualification"] = ((cid + nid) % 5 / 4).astype(np.float32) * np.ones_like(total)
        return ScoreBlock(total=total, components=components, gates=gates)


def make_sides(
    seed: int, n_c: int, n_n: int, spread_deg: float = 3.0, unknown_share: float = 0.05
) -> tuple[FakeCitizens, FakeNeeds]:
    rng = np.random.default_rng(seed)
    n_skills = 12

    def coords(n: int) -> tuple[np.ndarray, np.ndarray]:
        lat = 55.5 + rng.uniform(0, spread_deg / 2, n)
        lon = 9.0 + rng.uniform(0, spread_deg, n)
        unknown = rng.random(n) < unknown_share
        lat[unknown] = np.nan
        lon[unknown] = np.nan
        return lat, lon

    c_lat, c_lon = coords(n_c)
    n_lat, n_lon = coords(n_n)
    # ids unsorted and sparse, so row order and id order differ
    c_ids = rng.permutation(10 * n_c)[:n_c].astype(np.int64) + 1
    n_ids = rng.permutation(10 * n_n)[:n_n].astype(np.int64) + 1
    c_sk = sp.random(n_c, n_skills, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    n_sk = sp.random(n_n, n_skills, density=0.3, format="csr", random_state=seed + 1, dtype=np.float32)
    c_sk.data[:] = 0.5
    n_sk.data[:] = 0.5
    citizens = FakeCitizens(c_ids, c_lat, c_lon, rng.uniform(10, 80, n_c).astype(np.float32), c_sk)
    needs = FakeNeeds(n_ids, n_lat, n_lon, n_sk)
    return citizens, needs


@pytest.fixture
def scorer() -> StandInScorer:
    return StandInScorer()


# ------------------------------------------------------------------------------- engine: a toy taxonomy, real postcodes

TODAY = dt.date(2026, 11, 23)
OCC = "http://data.europa.eu/esco/occupation/"
SK = "http://data.europa.eu/esco/skill/"
OCCUPATIONS = [  # key, ISCO, regulated
    ("nurse", 2221, True), ("care_helper", 5322, False), ("care_assistant", 5321, False),
    ("cleaner", 9112, False), ("driver", 8332, False), ("warehouse", 9333, False),
]  # fmt: skip
SKILLS = ["care", "medication", "hygiene", "cleaning", "driving", "lifting", "forklift", "danish"]
ESSENTIAL = {"nurse": ["care", "medication", "hygiene"], "care_helper": ["care", "hygiene"],
             "care_assistant": ["care", "hygiene", "lifting"], "cleaner": ["cleaning", "hygiene"],
             "driver": ["driving"], "warehouse": ["lifting", "forklift"]}  # fmt: skip


def make_taxonomy() -> Taxonomy:
    o_row = {key: i for i, (key, *_rest) in enumerate(OCCUPATIONS)}
    s_row = {key: i for i, key in enumerate(SKILLS)}
    ess = np.zeros((len(OCCUPATIONS), len(SKILLS)), np.float32)
    for o, keys in ESSENTIAL.items():
        ess[o_row[o], [s_row[k] for k in keys]] = 1
    rel = np.zeros((len(SKILLS), len(SKILLS)), np.float32)
    rel[s_row["care"], s_row["hygiene"]] = rel[s_row["hygiene"], s_row["care"]] = 0.5
    empty = LabelTable(text=[], concept=np.zeros(0, np.int32), lang=[], kind=[])
    return Taxonomy(
        occupation_uris=[OCC + k for k, *_ in OCCUPATIONS],
        occupation_labels=[k.replace("_", " ") for k, *_ in OCCUPATIONS],
        occupation_labels_da=["" for _ in OCCUPATIONS],
        occupation_isco=np.array([o[1] for o in OCCUPATIONS], np.int32),
        occupation_regulated=np.array([o[2] for o in OCCUPATIONS], bool),
        skill_uris=[SK + k for k in SKILLS],
        skill_labels=list(SKILLS),
        skill_is_language=np.array([k == "danish" for k in SKILLS], bool),
        occ_essential=sp.csr_matrix(ess),
        occ_optional=sp.csr_matrix(np.zeros_like(ess)),
        skill_related=sp.csr_matrix(rel),
        occupation_label_table=empty,
        skill_label_table=empty,
        version="ranking-toy-1",
    )


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return make_taxonomy()


def random_people(
    seed: int, n_c: int, n_n: int, postcodes: Postcodes, national: bool = True
) -> tuple[list[tuple[int, Citizen]], list[tuple[int, Vacancy]]]:
    """Random but valid citizens and needs: mixed places (a few unknown postcodes), skills, groups, kinds,
    hours, languages, licences and dates, so that every gate fires somewhere."""
    rng = np.random.default_rng(seed)
    codes = postcodes.codes if national else [c for c in postcodes.codes if c.startswith("42")]
    groups = [g.value for g in TargetGroup]
    kinds = [k.value for k in NeedKind]

    def place() -> dict[str, Any]:
        r = rng.random()
        if r < 0.04:
            return {"postcode": "0001"}  # not a real postcode: accepted, geography neutral
        if r < 0.1:
            return {"location": {"lat": float(rng.uniform(54.8, 57.5)), "lon": float(rng.uniform(8.2, 12.6))}}
        return {"postcode": str(rng.choice(codes))}

    citizens = []
    for i in range(n_c):
        occ_key = OCCUPATIONS[int(rng.integers(len(OCCUPATIONS)))][0]
        skills = rng.choice(SKILLS[:-1], size=int(rng.integers(0, 5)), replace=False)
        hmax = float(rng.choice([37, 37, 37, 20, 6]))
        data: dict[str, Any] = {
            "external_ref": f"c{i}",
            "target_group": str(rng.choice(groups)),
            "max_commute_km": float(rng.choice([10, 20, 30, 45, 60])),
            "hours": {"min": 0, "max": hmax},
            "skills": [{"uri": SK + s, "provenance": str(rng.choice(["self_reported", "assessed"]))} for s in skills],
            "occupations": [{"uri": OCC + occ_key, "years": float(rng.integers(0, 10))}] if rng.random() < 0.7 else [],
            "languages": [{"language": "da", "cefr": str(rng.choice(["A2", "B1", "B2", "C1"])),
                           "school_weekdays": ["tue", "thu"] if rng.random() < 0.2 else []}],
            "driving_licences": ["B"] if rng.random() < 0.6 else [],
            "available_from": str(TODAY + dt.timedelta(days=int(rng.integers(0, 60)))),
            **place(),
        }  # fmt: skip
        if occ_key == "nurse" and rng.random() < 0.5:
            data["qualifications"] = [{"title": "Nursing", "country": "SY", "eqf_level": 6,
                                       "recognition": str(rng.choice(["undocumented", "recognised"])),
                                       "occupation_uri": OCC + "nurse"}]  # fmt: skip
        citizens.append((int(rng.integers(1, 10**9)) if i % 3 == 0 else 1000 + 7 * i, Citizen.model_validate(data)))
    needs = []
    for j in range(n_n):
        occ_key = OCCUPATIONS[int(rng.integers(len(OCCUPATIONS)))][0]
        kind = str(rng.choice(kinds))
        hours = float(rng.choice([37, 20, 10]))
        data = {
            "employer_id": int(rng.integers(1, 20)),
            "title": occ_key,
            "occupation_uri": OCC + occ_key,
            "kind": kind,
            "hours_per_week": hours,
            "languages": [{"language": "da", "cefr": "B1", "hard": bool(rng.random() < 0.3)}],
            "driving_licences": ["B"] if occ_key == "driver" else [],
            "positions": int(rng.choice([0, 1, 1, 2, 3])),
            "start_date": str(TODAY + dt.timedelta(days=int(rng.integers(0, 30)))),
            **place(),
        }
        if rng.random() < 0.3:
            data["essential_skills"] = [{"uri": SK + s} for s in rng.choice(SKILLS[:-1], 2, replace=False)]
        if kind == "hybrid_internship":
            data["hybrid"] = {"paid_hours": hours / 2, "internship_hours": hours / 2, "weeks": 8}
        if rng.random() < 0.05:
            data["expires"] = str(TODAY - dt.timedelta(days=1))
            data["start_date"] = str(TODAY - dt.timedelta(days=10))
        needs.append((5000 + 3 * j if j % 2 else int(rng.integers(1, 10**9)), Vacancy.model_validate(data)))
    # ids must be unique on each side; the random ones almost surely are, make sure
    return list(dict(citizens).items()), list(dict(needs).items())


@pytest.fixture
def engine_factory(taxonomy: Taxonomy, postcodes: Postcodes) -> Callable[..., MatchEngine]:
    def make(policy: ScoringPolicy | None = None, memory_budget_mb: int = 512) -> MatchEngine:
        return MatchEngine(taxonomy, postcodes, policy or ScoringPolicy(), memory_budget_mb, today=TODAY)

    return make
