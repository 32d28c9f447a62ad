"""Alembic environment: runs against the engine handed in by :func:`matcher.storage.upgrade` (or one built from
the settings' database_url when alembic is run by hand)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from matcher.storage._tables import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is None:
        from matcher.config import get_settings
        from matcher.storage._database import make_engine

        engine = make_engine(get_settings().database_url)
    return engine


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with _engine().connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
