"""Fixtures of the batch tests: a small synthetic world stored in a fresh SQLite file per test, and settings
pointing at it. The run scores with the real taxonomy and postcodes (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from matcher.config import Settings
from tests.batch._world import fill_database, sqlite_url
from tests.storage._db import db_url, pg_schema_url

__all__ = ["db_url", "pg_schema_url"]

N_CITIZENS, N_NEEDS = 240, 60


World = Callable[..., tuple[Settings, sessionmaker[Session]]]


@pytest.fixture
def world(tmp_path: Path) -> World:
    """``world(name, n_citizens, n_needs, seed)`` → (settings, sessions) of a filled SQLite database."""

    def make(
        name: str = "db", n_citizens: int = N_CITIZENS, n_needs: int = N_NEEDS, seed: int = 3, top_k: int = 10
    ) -> tuple[Settings, sessionmaker[Session]]:
        url = sqlite_url(tmp_path / f"{name}.sqlite")
        sessions = fill_database(url, n_citizens, n_needs, seed=seed)
        return Settings(database_url=url, top_k=top_k), sessions

    return make
