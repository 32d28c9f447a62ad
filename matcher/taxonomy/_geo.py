"""Danish postcodes with coordinates: DAWA visual centres, GeoNames for the codes DAWA lacks (PO boxes etc.)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, eq=False)
class Postcodes:
    """Postcode → (lat, lon, name, municipality codes). Build with :func:`load_postcodes`."""

    codes: list[str]
    lat: np.ndarray  # float64, degrees
    lon: np.ndarray
    names: list[str]
    municipalities: list[str]  # ';'-joined 4-digit kommunekoder ('' where unknown)

    @cached_property
    def row(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.codes)}

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.row

    def coordinates(self, code: str) -> tuple[float, float] | None:
        """(lat, lon) of the postcode's centre, or None for an unknown code."""
        i = self.row.get(code)
        return None if i is None else (float(self.lat[i]), float(self.lon[i]))

    def name(self, code: str) -> str | None:
        i = self.row.get(code)
        return None if i is None else self.names[i]

    def in_municipality(self, kommunekode: str) -> list[str]:
        """Postcodes that (partly) lie in the municipality with the 4-digit code, e.g. '0330' for Slagelse."""
        return [c for c, m in zip(self.codes, self.municipalities, strict=True) if kommunekode in m.split(";")]


def load_postcodes(data_dir: Path) -> Postcodes:
    """Read ``data_dir/postcodes``. DAWA wins where both sources have a code."""
    folder = data_dir / "postcodes"
    dawa = pd.read_csv(folder / "dawa_postnumre_centroids.csv", dtype={"postnr": str, "kommunekoder": str})
    geo = pd.read_csv(folder / "geonames_zipcodes_dk.csv", dtype={"zipcode": str, "province_code": str})
    frame = pd.DataFrame(
        {
            "code": dawa["postnr"].str.zfill(4),
            "lat": dawa["lat"].astype(float),
            "lon": dawa["lon"].astype(float),
            "name": dawa["navn"].astype(str),
            "kommuner": dawa["kommunekoder"].fillna("").astype(str),
        }
    )
    extra = geo[~geo["zipcode"].str.zfill(4).isin(frame["code"])]
    extra_frame = pd.DataFrame(
        {
            "code": extra["zipcode"].str.zfill(4),
            "lat": extra["latitude"].astype(float),
            "lon": extra["longitude"].astype(float),
            "name": extra["place"].astype(str),
            "kommuner": extra["province_code"].fillna("").astype(str).str.zfill(4),
        }
    )
    both = pd.concat([frame, extra_frame], ignore_index=True).dropna(subset=["lat", "lon"])
    both = both.drop_duplicates("code").sort_values("code", kind="stable").reset_index(drop=True)
    return Postcodes(
        codes=both["code"].tolist(),
        lat=both["lat"].to_numpy(np.float64),
        lon=both["lon"].to_numpy(np.float64),
        names=both["name"].tolist(),
        municipalities=both["kommuner"].tolist(),
    )


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km; broadcasts (e.g. a column of citizens against a row of needs)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def haversine_km_pair(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`haversine_km` for one pair, in plain floats (the numpy version costs ~8 µs on scalars)."""
    return haversine_km_points(point_radians(lat1, lon1), point_radians(lat2, lon2))


def point_radians(lat: float, lon: float) -> tuple[float, float, float]:
    """A point's parts of the haversine formula: latitude, its cosine, longitude (radians). Worked out once, a
    point can be measured against many with :func:`haversine_km_points` (the explanations do)."""
    p = math.radians(lat)
    return p, math.cos(p), math.radians(lon)


def haversine_km_points(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """:func:`haversine_km_pair` of two points given by :func:`point_radians`."""
    p1, cos1, lmb1 = a
    p2, cos2, lmb2 = b
    h = math.sin((p2 - p1) / 2) ** 2 + cos1 * cos2 * math.sin((lmb2 - lmb1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
