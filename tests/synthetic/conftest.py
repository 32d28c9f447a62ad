"""Fixtures for the synthetic-data tests: one mid-sized Slagelse world shared by the module's tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from matcher.config import REPO_ROOT
from matcher.synthetic import SyntheticData, generate

DATA = REPO_ROOT / "data"
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def world() -> SyntheticData:
    """2000 citizens, 400 vacancies in the Slagelse region: the scale the brief states for the mix checks."""
    return generate(2000, 400, seed=7, today=TODAY)


@pytest.fixture(scope="session")
def sector_of_occupation() -> dict[str, str]:
    frame = pd.read_csv(DATA / "synthetic" / "sectors.csv", dtype=str)
    return dict(zip(frame["occupation_uri"], frame["sector"], strict=True))


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A data folder whose big reference folders are symlinks and whose synthetic tables are copies, so a test
    can break or add one file without touching the repository."""
    for name in ("esco", "esco_da", "postcodes"):
        (tmp_path / name).symlink_to(DATA / name, target_is_directory=True)
    synthetic = tmp_path / "synthetic"
    synthetic.mkdir()
    for path in (DATA / "synthetic").glob("*.csv"):
        (synthetic / path.name).write_bytes(path.read_bytes())
    return tmp_path
