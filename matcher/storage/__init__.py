"""Storage: SQLAlchemy 2 tables, repositories and Alembic migrations. SQLite file by default, PostgreSQL by URL.

Typical use::

    engine = make_engine(settings.database_url)
    upgrade(engine)                      # alembic upgrade head; safe on every start
    factory = session_factory(engine)
    with transaction(factory) as session:
        CitizenRepository(session).add(citizen)
"""

from matcher.storage._audit_writer import AuditUnavailableError, AuditWriter
from matcher.storage._database import (
    MIGRATIONS_DIR,
    WalCheckpointer,
    alembic_config,
    is_sqlite,
    make_engine,
    open_database,
    ping,
    session_factory,
    transaction,
    upgrade,
)
from matcher.storage._repos import (
    AUDIT_ATTRIBUTE_FIELDS,
    MAX_ID,
    OVERRIDE_KINDS,
    ROLES,
    AuditAttributesRepository,
    AuditEntry,
    AuditRepository,
    CitizenRepository,
    ConflictError,
    EmployerRepository,
    FeedbackRepository,
    KeyRepository,
    MetaRepository,
    NeedRepository,
    NotFoundError,
    citizen_columns,
    hash_key,
    move_staged_audit,
    need_columns,
    pseudonym,
)
from matcher.storage._tables import (
    ApiKeyRow,
    AuditRow,
    AuditStagingRow,
    Base,
    CitizenAuditAttributesRow,
    CitizenRow,
    EmployerRow,
    FeedbackRow,
    NeedRow,
    RankingResultRow,
    RankingRunRow,
    ServiceMetaRow,
)

__all__ = [
    "AUDIT_ATTRIBUTE_FIELDS",
    "MAX_ID",
    "MIGRATIONS_DIR",
    "OVERRIDE_KINDS",
    "ROLES",
    "ApiKeyRow",
    "AuditAttributesRepository",
    "AuditEntry",
    "AuditRepository",
    "AuditRow",
    "AuditStagingRow",
    "AuditUnavailableError",
    "AuditWriter",
    "Base",
    "CitizenAuditAttributesRow",
    "CitizenRepository",
    "CitizenRow",
    "ConflictError",
    "EmployerRepository",
    "EmployerRow",
    "FeedbackRepository",
    "FeedbackRow",
    "KeyRepository",
    "MetaRepository",
    "NeedRepository",
    "NeedRow",
    "NotFoundError",
    "RankingResultRow",
    "RankingRunRow",
    "ServiceMetaRow",
    "WalCheckpointer",
    "alembic_config",
    "citizen_columns",
    "hash_key",
    "is_sqlite",
    "make_engine",
    "move_staged_audit",
    "need_columns",
    "open_database",
    "ping",
    "pseudonym",
    "session_factory",
    "transaction",
    "upgrade",
]
