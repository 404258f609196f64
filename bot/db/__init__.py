"""Steward's database layer: one schema on SQLite or PostgreSQL (SQLAlchemy 2 Core, async) + Alembic.

Repositories are plain async functions taking an `AsyncEngine`, one module per concern.
"""

from bot.db.engine import DatabaseConfigError, check_connection, default_sqlite_url, make_engine, mask_url

__all__ = ["DatabaseConfigError", "check_connection", "default_sqlite_url", "make_engine", "mask_url"]
