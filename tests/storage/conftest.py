from tests.storage._db import db_url, pg_schema_url

__all__ = ["db_url", "pg_schema_url"]
