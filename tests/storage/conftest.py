from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from matcher.storage import make_engine, session_factory
from tests.storage._db import db_url, pg_schema_url

__all__ = ["db_url", "pg_schema_url"]


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's fresh database."""
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()
