"""Shared machinery of the feature tables: id ↔ row maps, concatenation, row selection, codes and bitmasks.

A feature table is a frozen dataclass of columns. Each field is tagged in its metadata as ``row`` (a numpy array
whose first axis is the row), ``csr`` (a scipy CSR matrix with one row per table row) or ``shared`` (a scalar
that must agree between tables that are concatenated). :class:`FeatureTable` implements ``concat``, ``take``,
``ids`` and ``row_of`` once for both sides, so a column added later is carried along without extra code.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Self

import numpy as np
import pycountry
import scipy.sparse as sp

from matcher.domain import WEEKDAY_ORDER, DrivingLicence, NeedKind, TargetGroup, Weekday


class FeatureInputError(ValueError):
    """A citizen or need cannot be turned into features; the message names the id, the field and the reason."""


EPOCH = dt.date(1970, 1, 1)
NO_EXPIRY_DAY = np.int32(2**30)
"""Day number used for "never expires": far beyond any real date, small enough that int32 arithmetic is safe."""


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01; exact in float32 for the next 40,000 years, so the scorer can work in float32."""
    return (day - EPOCH).days


TARGET_GROUPS: tuple[TargetGroup, ...] = tuple(TargetGroup)
NEED_KINDS: tuple[NeedKind, ...] = tuple(NeedKind)
TARGET_GROUP_CODE: dict[TargetGroup, int] = {g: i for i, g in enumerate(TARGET_GROUPS)}
NEED_KIND_CODE: dict[NeedKind, int] = {k: i for i, k in enumerate(NEED_KINDS)}

WEEKDAY_BIT: dict[Weekday, int] = {day: 1 << i for i, day in enumerate(WEEKDAY_ORDER)}
LICENCE_BIT: dict[DrivingLicence, int] = {lic: 1 << i for i, lic in enumerate(DrivingLicence)}

POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int8)
"""Number of set bits of every uint8, for weekday masks."""


def weekday_mask(days: Iterable[Weekday]) -> int:
    mask = 0
    for day in days:
        mask |= WEEKDAY_BIT[day]
    return mask


def weekday_list(mask: int) -> list[Weekday]:
    """The weekdays set in ``mask``, Monday first."""
    return [day for day, bit in WEEKDAY_BIT.items() if mask & bit]


def licence_mask(licences: Iterable[DrivingLicence]) -> int:
    mask = 0
    for lic in licences:
        mask |= LICENCE_BIT[lic]
    return mask


def licence_list(mask: int) -> list[DrivingLicence]:
    return [lic for lic, bit in LICENCE_BIT.items() if mask & bit]


LANGUAGES: tuple[str, ...] = tuple(sorted({lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")}))
"""Fixed language vocabulary (every ISO 639-1 code, sorted): citizens and needs built at different times share
column numbers without agreeing on a vocabulary first."""
LANGUAGE_INDEX: dict[str, int] = {code: i for i, code in enumerate(LANGUAGES)}

ISCO_UNIT_CODES = 10_000
"""Columns of the ISCO unit-group code space (4-digit codes index directly)."""
ISCO_MINOR_CODES = 1_000

# Planar coordinates for distances: an orthographic projection on the plane tangent at the middle of Denmark.
# Within the realm (≤ 350 km from the centre) it distorts distances by < 0.2 %, and it turns the pair distance
# into 2-D float32 differences, with no trigonometry on the pair grid (see docs/scoring.md, geography).
EARTH_RADIUS_KM = 6371.0088
_LAT0 = math.radians(56.0)
_LON0 = math.radians(10.5)


def project_km(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x east, y north) in km on the tangent plane; NaN in → NaN out."""
    phi = np.radians(lat)
    dlmb = np.radians(lon) - _LON0
    x = EARTH_RADIUS_KM * np.cos(phi) * np.sin(dlmb)
    y = EARTH_RADIUS_KM * (math.cos(_LAT0) * np.sin(phi) - math.sin(_LAT0) * np.cos(phi) * np.cos(dlmb))
    return x, y


def geo_columns(lat: np.ndarray, lon: np.ndarray) -> dict[str, np.ndarray]:
    """The location columns every feature table has: degrees (NaN when unknown) and the planar km coordinates
    the scorer measures distance with (0 where unknown, flagged by ``geo_known``)."""
    x, y = project_km(lat, lon)
    known = ~np.isnan(lat)
    return {
        "lat": lat,
        "lon": lon,
        "geo_x": np.where(known, x, 0.0).astype(np.float32),
        "geo_y": np.where(known, y, 0.0).astype(np.float32),
        "geo_known": known,
    }


SMALL_CSR_ROWS = 8
"""Up to this many rows, :func:`csr_from_dicts` builds the matrix in plain Python (see there)."""


@lru_cache(maxsize=64)
def _empty_csr(n_rows: int, n_cols: int) -> sp.csr_matrix:
    """A template for :func:`csr_from_dicts`: only ever copied (``copy.copy``), never handed out or changed."""
    empty = (np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(n_rows + 1, np.int32))
    return sp.csr_matrix(empty, shape=(n_rows, n_cols))


def csr_from_dicts(rows: Sequence[dict[int, float]], n_cols: int) -> sp.csr_matrix:
    """CSR float32 with sorted column indices from one {column: value} dict per row.

    All dicts are flattened in one pass (a dict yields its keys and its values in the same order) and sorted
    by (row, column) at once: a national build has 300k rows per matrix, and a Python loop per row was a
    fifth of the feature build. A few rows (an ad hoc search builds one need) are sorted in Python instead:
    there the array passes cost more than the work, and it is the same matrix (int32 indices, as scipy would
    choose for it, sorted, no duplicates)."""
    if len(rows) <= SMALL_CSR_ROWS:
        indptr_list, cols_list, vals_list = [0], [], []
        for row in rows:
            for col in sorted(row):
                cols_list.append(col)
                vals_list.append(row[col])
            indptr_list.append(len(cols_list))
        if cols_list and (min(cols_list) < 0 or max(cols_list) >= n_cols):
            raise ValueError(f"csr_from_dicts: a column outside 0..{n_cols - 1}")
        # columns in range, sorted and unique per row (dict keys): the checks of scipy's constructor (~25 µs, five
        # matrices per ad hoc search) would find nothing, so the three arrays go into a copy of an empty matrix of
        # the shape instead (the same matrix: int32 indices, as scipy chooses for them)
        matrix = copy.copy(_empty_csr(len(rows), n_cols))
        matrix.data = np.array(vals_list, np.float32)
        matrix.indices = np.array(cols_list, np.int32)
        matrix.indptr = np.array(indptr_list, np.int32)
        return matrix
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    total = int(lengths.sum())
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    cols = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=total)
    vals = np.fromiter(itertools.chain.from_iterable(r.values() for r in rows), dtype=np.float32, count=total)
    order = np.lexsort((cols, np.repeat(np.arange(len(rows), dtype=np.int64), lengths)))
    return sp.csr_matrix((vals[order], cols[order].astype(np.int32), indptr), shape=(len(rows), n_cols))


ROW: dict[str, str] = {"kind": "row"}
CSR: dict[str, str] = {"kind": "csr"}
SHARED: dict[str, str] = {"kind": "shared"}
"""Field metadata tags (see the module docstring)."""


_PER_ROW_FIELDS: dict[type, tuple[str, ...]] = {}


def _per_row_fields(cls: type) -> tuple[str, ...]:
    """The fields of a feature table class with one entry per row (``row`` arrays and ``csr`` matrices): checked
    on every table built, one of them per ad hoc search, where reading the dataclass fields each time cost more
    than the checks."""
    found = _PER_ROW_FIELDS.get(cls)
    if found is None:
        kinds = ("row", "csr")
        found = _PER_ROW_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("kind") in kinds)
    return found


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureTable:
    """Columns of one side (citizens or needs). Rows are positions; business ids live only in ``ids``."""

    ids: np.ndarray = dataclasses.field(metadata=ROW)  # int64
    taxonomy_version: str = dataclasses.field(metadata=SHARED)

    side: ClassVar[str] = "row"

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in _per_row_fields(type(self)):
            rows = getattr(self, name).shape[0]
            if rows != n:
                raise ValueError(f"{type(self).__name__}.{name}: {rows} rows, expected {n}")

    @property
    def n(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def _row_index(self) -> dict[int, int]:
        index = {int(i): r for r, i in enumerate(self.ids.tolist())}
        if len(index) != len(self.ids):
            raise ValueError(f"{type(self).__name__}: duplicate ids")
        return index

    def row_of(self, id_: int) -> int:
        """Row of business id ``id_``; KeyError when it is not in the table."""
        try:
            return self._row_index[int(id_)]
        except KeyError:
            raise KeyError(f"{self.side} id {id_} is not in the feature table") from None

    def rows_of(self, ids: Iterable[int]) -> np.ndarray:
        """Rows of several ids (int64); KeyError naming the first missing id."""
        return np.array([self.row_of(i) for i in ids], dtype=np.int64)

    def take(self, rows: np.ndarray) -> Self:
        """A new table of the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.metadata.get("kind")
            values[f.name] = value[rows] if kind in ("row", "csr") else value
        return type(self)(**values)

    def without(self, ids: Iterable[int]) -> Self:
        """A new table without the rows of ``ids`` (ids that are not present are ignored)."""
        drop = np.isin(self.ids, np.fromiter((int(i) for i in ids), dtype=np.int64))
        return self.take(np.flatnonzero(~drop))

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        """Stack tables row-wise. Shared scalars must agree (ValueError naming the field); ids must be unique."""
        if not parts:
            raise ValueError(f"{cls.__name__}.concat: give at least one part")
        if len(parts) == 1:
            return parts[0]
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            items = [getattr(p, f.name) for p in parts]
            kind = f.metadata.get("kind")
            if kind == "row":
                values[f.name] = np.concatenate(items)
            elif kind == "csr":
                values[f.name] = sp.vstack(items, format="csr", dtype=items[0].dtype)
            elif f.name == "today_day":
                values[f.name] = max(items)
            else:
                if any(item != items[0] for item in items[1:]):
                    raise ValueError(
                        f"{cls.__name__}.concat: parts disagree on {f.name} ({items[0]!r} vs others); "
                        "build all parts against the same taxonomy"
                    )
                values[f.name] = items[0]
        out = cls(**values)
        ids = out.ids
        if len(np.unique(ids)) != len(ids):
            uniq, counts = np.unique(ids, return_counts=True)
            raise ValueError(f"{cls.__name__}.concat: id {int(uniq[counts > 1][0])} appears in more than one part")
        return out

    def upsert(self, part: Self) -> Self:
        """Replace the rows whose ids are in ``part`` and append the new ones (one concat)."""
        return type(self).concat([self.without(part.ids.tolist()), part])
