"""Build the one async engine from a DATABASE_URL: SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.config import mask_url as config_mask_url

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another writer's lock (blocks a thread, not the loop)
POSTGRES_CONNECT_TIMEOUT_S = 10.0

_SCHEME_MAP = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_SUPPORTED = "sqlite+aiosqlite:///path/to/steward.db or postgresql://user:password@host:5432/dbname"


class DatabaseConfigError(Exception):
    """A DATABASE_URL we cannot use. The message is one line and never contains the password."""


def default_sqlite_url(data_dir: str | os.PathLike[str]) -> str:
    return f"sqlite+aiosqlite:///{Path(data_dir) / 'steward.db'}"


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ***, also for strings SQLAlchemy cannot parse."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return config_mask_url(url)


def scrub(message: str, url: str | URL) -> str:
    """Remove the URL's password from an error message (drivers sometimes echo the DSN) and keep one line."""
    password = None
    try:
        password = (url if isinstance(url, URL) else make_url(url)).password
    except ArgumentError:
        pass
    if password:
        message = message.replace(str(password), "***")
    return " ".join(message.split())


def parse_url(url: str) -> URL:
    """Parse and normalise to an async driver, or raise DatabaseConfigError."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise DatabaseConfigError(f"cannot parse DATABASE_URL {mask_url(url)!r}; expected {_SUPPORTED}") from None
    driver = _SCHEME_MAP.get(parsed.drivername)
    if driver is None:
        raise DatabaseConfigError(
            f"unsupported database driver {parsed.drivername!r} in {mask_url(parsed)}; expected {_SUPPORTED}"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("postgresql") and not parsed.database:
        raise DatabaseConfigError(f"no database name in {mask_url(parsed)}; expected {_SUPPORTED}")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / non-SQLite."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
    create_dirs: bool = True,
) -> AsyncEngine:
    """The async engine for `url`. Does not connect yet; call `check_connection` for a clear early error."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(
            parsed, pool_size=pool_size, max_overflow=max_overflow, echo=echo, create_dirs=create_dirs
        )
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # survive Postgres restarts without a burst of errors
        echo=echo,
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )


def _sqlite_engine(url: URL, *, pool_size: int, max_overflow: int, echo: bool, create_dirs: bool) -> AsyncEngine:
    path = sqlite_path(url)
    kwargs: dict[str, Any] = {"echo": echo, "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if path is None:
        # One shared connection, else every pooled connection would see its own empty in-memory database.
        kwargs["poolclass"] = StaticPool
    else:
        if create_dirs:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseConfigError(
                    f"cannot create the data directory {path.parent} for the SQLite database: {exc.strerror} "
                    "(set bot.data_dir or DATABASE_URL)"
                ) from None
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow)
    engine = create_async_engine(url, **kwargs)
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the driver's implicit BEGIN
        # skips DDL and cannot take an IMMEDIATE (write) lock, which migrations need.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA synchronous=NORMAL",  # with WAL: a power cut may lose the last commit, never corrupts
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        _ensure_wal(cursor)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # `conn.execution_options(sqlite_begin="IMMEDIATE")` takes the write lock up front (see migrate.py).
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL (readers never block the writer); the mode is stored in the file, so once is enough.

    Switching needs an exclusive lock and SQLite answers "locked" at once (no busy wait) while another connection
    writes, e.g. a concurrent migration. WAL is a speed setting, not a correctness one, so we leave it to the next
    connection rather than fail or block the event loop.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() in ("wal", "memory"):
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception as exc:  # the adapted driver's OperationalError
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        log.debug("SQLite file busy; switching to WAL on a later connection")


async def check_connection(engine: AsyncEngine) -> None:
    """Connect once and run `SELECT 1`; failure = one-line DatabaseConfigError (password masked)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # drivers raise many types (OSError, asyncpg errors, sqlite3 errors...)
        log.debug("database connection check failed", exc_info=True)
        root = _root(exc)
        detail = scrub(f"{type(root).__name__}: {root}" if str(root) else type(root).__name__, engine.url)
        raise DatabaseConfigError(f"cannot connect to {mask_url(engine.url)}: {detail}") from None


def _root(exc: BaseException) -> BaseException:
    # SQLAlchemy wraps driver errors (adding SQL and a docs link); the driver's own error is the useful part.
    while (orig := getattr(exc, "orig", None)) is not None and orig is not exc:
        exc = orig
    return exc


def log_legacy_postgres_flag(environ: Mapping[str, str] = os.environ) -> None:
    """ALLOW_EXPERIMENTAL_POSTGRES gated Postgres in the seed; Postgres is supported now; ignored."""
    if "ALLOW_EXPERIMENTAL_POSTGRES" in environ:
        log.info("ALLOW_EXPERIMENTAL_POSTGRES is set but no longer needed: PostgreSQL is supported; ignoring it")
