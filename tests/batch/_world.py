"""Helpers of the batch tests and benchmarks: a SQLite database filled with a synthetic world."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from matcher.storage import (
    CitizenRepository,
    EmployerRepository,
    NeedRepository,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from matcher.synthetic import generate

TODAY = dt.date(2026, 11, 1)


def fill_database(url: str, n_citizens: int, n_needs: int, seed: int = 0) -> sessionmaker[Session]:
    """Migrate the database at ``url`` and store a synthetic world in it."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    world = generate(n_citizens, n_needs, seed=seed, today=TODAY)
    with transaction(sessions) as session:
        employers = EmployerRepository(session)
        ids = [employers.add(e).id for e in world.employers]
        vacancies = [v.model_copy(update={"employer_id": ids[v.employer_id - 1]}) for v in world.vacancies]
        CitizenRepository(session).add_many(world.citizens)
        NeedRepository(session).add_many(vacancies)
    return sessions


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
