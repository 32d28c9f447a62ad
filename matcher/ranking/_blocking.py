"""Geographic blocking: decide which citizen–need pairs could lie within commuting distance without scoring them.

At national scale most pairs are far beyond any commute and the commute gate would zero them anyway, so scoring
them is wasted work. Rows are grouped by a latitude/longitude grid cell (citizens also by a commute band, so a
group's reach is close to its members' own); a group keeps its bounding box and the largest reach of its members.
A *lower bound* on the great-circle distance between a bounding box and a point (or another box) then says which
pairs can be skipped. The bound never exceeds the true distance, and a safety margin absorbs float32 rounding in
the scorer's own distance, so blocking is exact: it never drops a pair the scorer would not gate for commute.

Rows without coordinates (unknown postcode) are never blocked: the scorer treats their geography as neutral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from matcher.taxonomy import haversine_km
from matcher.taxonomy._geo import EARTH_RADIUS_KM

CELL_KM = 20.0
"""Grid cell edge. Smaller cells give tighter bounds but more, smaller blocks (numpy overhead per block)."""

COMMUTE_BANDS_KM: tuple[float, ...] = (15.0, 25.0, 35.0, 45.0, 60.0, 100.0, 200.0)
"""Upper edges of the commute bands citizens are grouped by; longer commutes share one last band."""

SAFETY_KM = 0.5
SAFETY_RATIO = 0.01
"""Added to every reach. The scorer measures distance on a plane tangent at the middle of Denmark (a projection
that shortens distances, by < 0.3 % within the realm's bounds) in float32, so it may let a pair through whose
great-circle distance is a little beyond the commute; the margin keeps blocking from dropping such a pair."""

_KM_PER_DEG_LAT = math.pi * EARTH_RADIUS_KM / 180.0
_REF_LAT = 56.0  # Denmark's middle, only to size cells in longitude (bounds stay exact anywhere)


ArrayOrFloat = np.ndarray | float


def padded_reach(reach_km: np.ndarray | float) -> np.ndarray:
    """A reach widened by the safety margin."""
    return np.asarray(reach_km, dtype=np.float64) * (1.0 + SAFETY_RATIO) + SAFETY_KM


def lower_bound_km(
    lat_lo: ArrayOrFloat,
    lat_hi: ArrayOrFloat,
    lon_lo: ArrayOrFloat,
    lon_hi: ArrayOrFloat,
    lat_lo2: ArrayOrFloat,
    lat_hi2: ArrayOrFloat,
    lon_lo2: ArrayOrFloat,
    lon_hi2: ArrayOrFloat,
) -> np.ndarray:
    """Lower bound of the great-circle distance between any point of box 1 and any point of box 2 (broadcasts).

    haversine: a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2). With Δφ ≥ the latitude gap, Δλ ≥ the longitude gap
    (both < 180°) and cos φ ≥ cos of the box's largest |latitude|, every term is bounded from below.
    """
    gap_lat = np.radians(np.maximum(0.0, np.maximum(lat_lo - lat_hi2, lat_lo2 - lat_hi)))
    gap_lon = np.radians(np.maximum(0.0, np.maximum(lon_lo - lon_hi2, lon_lo2 - lon_hi)))
    cos1 = np.cos(np.radians(np.maximum(np.abs(lat_lo), np.abs(lat_hi))))
    cos2 = np.cos(np.radians(np.maximum(np.abs(lat_lo2), np.abs(lat_hi2))))
    a = np.sin(gap_lat / 2) ** 2 + cos1 * cos2 * np.sin(gap_lon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True, eq=False)
class GeoGroups:
    """Rows of one feature block grouped by grid cell (and reach band), with each group's bounding box.

    ``rows[offsets[g]:offsets[g + 1]]`` are the (ascending) rows of group ``g``; ``reach_km[g]`` is the largest
    reach of its members (inf when built without reaches); ``unlocated`` are the rows without coordinates.
    ``row_group[r]`` is the group of row ``r`` of the block (``n_groups`` when unlocated, ``n_groups + 1`` when
    the row was not grouped).
    """

    rows: np.ndarray
    offsets: np.ndarray
    lat_lo: np.ndarray
    lat_hi: np.ndarray
    lon_lo: np.ndarray
    lon_hi: np.ndarray
    reach_km: np.ndarray
    unlocated: np.ndarray
    row_group: np.ndarray

    @classmethod
    def build(
        cls,
        lat: np.ndarray,
        lon: np.ndarray,
        rows: np.ndarray,
        reach_km: np.ndarray | None = None,
        cell_km: float = CELL_KM,
    ) -> GeoGroups:
        """Group ``rows`` (indices into ``lat``/``lon``/``reach_km``) by cell and, when reaches are given, band."""
        rows = np.asarray(rows, dtype=np.int64)
        n_rows = len(lat)
        la, lo = lat[rows], lon[rows]
        located = np.isfinite(la) & np.isfinite(lo)
        unlocated = rows[~located]
        rows, la, lo = rows[located], la[located], lo[located]
        cell_lat = np.floor(la * (_KM_PER_DEG_LAT / cell_km)).astype(np.int64)
        cell_lon = np.floor(lo * (_KM_PER_DEG_LAT * math.cos(math.radians(_REF_LAT)) / cell_km)).astype(np.int64)
        if reach_km is None:
            band = np.zeros(len(rows), dtype=np.int64)
            reach = np.full(len(rows), np.inf)
        else:
            reach = np.asarray(reach_km, dtype=np.float64)[rows]
            band = np.searchsorted(np.asarray(COMMUTE_BANDS_KM), reach, side="left").astype(np.int64)
        # one integer key per (cell, band); cells span a few hundred values, so 2**20 per axis is ample
        key = ((cell_lat + (1 << 20)) << 24 | (cell_lon + (1 << 20)) << 3) | band
        order = np.lexsort((rows, key))
        key, rows, la, lo, reach = key[order], rows[order], la[order], lo[order], reach[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
        offsets = np.r_[starts, len(key)].astype(np.int64)
        if len(key):
            lat_lo, lat_hi = np.minimum.reduceat(la, starts), np.maximum.reduceat(la, starts)
            lon_lo, lon_hi = np.minimum.reduceat(lo, starts), np.maximum.reduceat(lo, starts)
            group_reach = np.maximum.reduceat(reach, starts)
        else:
            lat_lo = lat_hi = lon_lo = lon_hi = group_reach = np.zeros(0)
        n_groups = len(starts)
        row_group = np.full(n_rows, n_groups + 1, dtype=np.int32)
        row_group[rows] = np.repeat(np.arange(n_groups, dtype=np.int32), np.diff(offsets))
        row_group[unlocated] = n_groups
        return cls(rows, offsets, lat_lo, lat_hi, lon_lo, lon_hi, group_reach, unlocated, row_group)

    @property
    def n_groups(self) -> int:
        return len(self.offsets) - 1

    def group(self, g: int) -> np.ndarray:
        return self.rows[self.offsets[g] : self.offsets[g + 1]]

    def groups_rows(self, groups: np.ndarray) -> np.ndarray:
        """Rows of the given groups, concatenated (not sorted)."""
        if len(groups) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.group(int(g)) for g in groups])

    def lower_bound_to_point(self, lat: float, lon: float) -> np.ndarray:
        """Per group: a lower bound of the distance from any member to the point."""
        return lower_bound_km(
            self.lat_lo, self.lat_hi, self.lon_lo, self.lon_hi,
            lat, lat, lon, lon,
        )

    def lower_bound_to_box(self, lat_lo: float, lat_hi: float, lon_lo: float, lon_hi: float) -> np.ndarray:
        """Per group: a lower bound of the distance from any member to any point of the box."""
        return lower_bound_km(
            self.lat_lo, self.lat_hi, self.lon_lo, self.lon_hi,
            lat_lo, lat_hi, lon_lo, lon_hi,
        )

    def rows_within(self, lat: float, lon: float, radius_km: float | None) -> np.ndarray:
        """Located rows that may lie within reach of the point: within ``radius_km`` of it when given, else within
        each group's own reach. A superset (whole groups); the scorer or an exact filter decides per row."""
        keep = self._groups_within(lat, lon, radius_km)
        return self.rows[np.repeat(keep, np.diff(self.offsets))]  # groups_rows, without a slice per group

    def _groups_within(self, lat: float, lon: float, radius_km: float | None) -> np.ndarray:
        """Per group: whether any member may lie within reach of the point (see :meth:`rows_within`)."""
        bound = self.lower_bound_to_point(lat, lon)
        reach = self.reach_km if radius_km is None else np.minimum(self.reach_km, radius_km)
        return bound <= padded_reach(reach)

    def mask_within(self, lat: float, lon: float, radius_km: float | None, unlocated: bool) -> np.ndarray:
        """:meth:`rows_within` as a mask over the block's rows (``unlocated``: with the rows without
        coordinates): ``np.flatnonzero`` of it gives the rows already in order, where the list needs a sort."""
        keep = np.empty(self.n_groups + 2, dtype=bool)
        keep[: self.n_groups] = self._groups_within(lat, lon, radius_km)
        keep[self.n_groups] = unlocated
        keep[self.n_groups + 1] = False
        return keep[self.row_group]


def rows_within_radius(
    lat: np.ndarray, lon: np.ndarray, rows: np.ndarray, lat0: float, lon0: float, radius_km: float
) -> np.ndarray:
    """The rows whose exact distance to the point is at most ``radius_km`` (rows without coordinates excluded)."""
    dist = haversine_km(lat[rows], lon[rows], np.asarray(lat0), np.asarray(lon0))
    return rows[dist <= radius_km]
