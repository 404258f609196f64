from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db.engine import (
    DatabaseConfigError,
    check_connection,
    log_legacy_postgres_flag,
    make_engine,
    mask_url,
    parse_url,
)


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@h/db", "postgresql+asyncpg"),
        ("postgres://u:p@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg"),
        ("sqlite:///data/steward.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///data/steward.db", "sqlite+aiosqlite"),
    ],
)
def test_urls_map_to_the_async_drivers(given: str, driver: str) -> None:
    assert parse_url(given).drivername == driver


@pytest.mark.parametrize(
    "bad", ["mysql://u:p@h/db", "postgresql+psycopg2://u:p@h/db", "not a url", "postgresql://u:p@h"]
)
def test_unusable_urls_raise_a_config_error(bad: str) -> None:
    with pytest.raises(DatabaseConfigError):
        parse_url(bad)


@pytest.mark.parametrize(
    "url",
    ["postgresql://steward:pa:ss@w0rd@db:5432/x", "postgres://steward:s3cret@db/x", "gar bage://a:s3cret@b"],
)
def test_mask_url_hides_the_password(url: str) -> None:
    masked = mask_url(url)
    assert "s3cret" not in masked and "w0rd" not in masked and "***" in masked


@pytest.mark.anyio
async def test_sqlite_engine_settings(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "steward.db"  # the data directory is created
    engine = make_engine(f"sqlite:///{db}")
    try:
        await check_connection(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
        assert db.is_file()
    finally:
        await engine.dispose()


def test_legacy_postgres_flag_is_ignored_with_an_info_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.db.engine"):
        log_legacy_postgres_flag({"ALLOW_EXPERIMENTAL_POSTGRES": "1"})
        log_legacy_postgres_flag({})
    assert len(caplog.records) == 1 and "no longer needed" in caplog.records[0].getMessage()


def test_an_uncreatable_data_directory_is_one_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DatabaseConfigError, match="cannot create the data directory"):
        make_engine(f"sqlite:///{blocker / 'data' / 'steward.db'}")
