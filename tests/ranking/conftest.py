"""Fixtures of the ranking tests: light feature stand-ins and a stand-in scorer with ties and gates, so the
blocked top-k can be checked against brute force independently of the real scorer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.scoring import COMPONENTS, Gate, ScoreBlock, Scorer
from matcher.taxonomy import haversine_km


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
