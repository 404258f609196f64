"""`INSERT ... ON CONFLICT` for the engine's dialect (SQLite and PostgreSQL spell it the same, SQLAlchemy doesn't)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect


def insert_for(dialect: Dialect, table: Table) -> Any:
    """A dialect-specific Insert that has `.on_conflict_do_update/.on_conflict_do_nothing` and `.excluded`."""
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {dialect.name}")


def greatest(dialect: Dialect, a: Any, b: Any) -> Any:
    """The larger of two values, NULL-tolerant on both backends (Postgres GREATEST skips NULLs; SQLite max doesn't)."""
    if dialect.name == "postgresql":
        return func.greatest(a, b)
    return func.max(func.coalesce(a, b), func.coalesce(b, a))
