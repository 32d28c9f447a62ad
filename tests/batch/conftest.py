"""Fixtures of the batch tests: the real taxonomy and postcodes (the run scores with the real scorer), a small
synthetic world stored in a fresh SQLite file per test, and settings pointing at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from matcher.config import Settings, get_settings
from matcher.taxonomy import Postcodes, Taxonomy, get_taxonomy, load_postcodes
from tests.batch._world import fill_database, sqlite_url
from tests.storage._db import db_url, pg_schema_url

__all__ = ["db_url", "pg_schema_url"]

N_CITIZENS, N_NEEDS = 240, 60


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return get_taxonomy()


@pytest.fixture(scope="session")
def postcodes() -> Postcodes:
    return load_postcodes(get_settings().data_dir)


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
