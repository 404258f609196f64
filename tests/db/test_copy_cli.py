"""`bot db copy` and the CLI's error handling, driven through typer's CliRunner on the real databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from bot.db.cli import db_app
from bot.db.copy import copy_database
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.db.moderation import add_strike
from bot.db.schema import (
    guild_settings,
    level_rewards,
    llm_usage,
    member_xp,
    message_log,
    metadata,
    mod_actions,
    safety_flags,
    spam_strikes,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MEMBERS = 100_000
runner = CliRunner()


def _seed_rows(n: int) -> dict[object, list[dict[str, object]]]:
    g = 800_000_000_000_000_000
    return {
        member_xp: [
            {
                "guild_id": g + i % 3,
                "user_id": 10**17 + i,
                "xp": i * 7 % 100_003,
                "level": i % 50,
                "message_count": i % 977,
                "last_xp_at": T0 + timedelta(seconds=i),
            }
            for i in range(n)
        ],
        guild_settings: [
            {"guild_id": g, "feature": f, "settings": {"on": True, "n": i, "l": [1, "x"]}, "updated_at": T0}
            for i, f in enumerate(["antispam", "leveling", "llm"])
        ],
        level_rewards: [{"guild_id": g, "level": lv, "role_id": 5000 + lv} for lv in (5, 10, 20)],
        spam_strikes: [
            {"guild_id": g, "user_id": u, "rule": "flood", "created_at": T0, "expires_at": None, "pardoned": u % 2 == 0}
            for u in range(50)
        ],
        mod_actions: [
            {
                "guild_id": g,
                "user_id": u,
                "moderator_id": None if u % 2 else 42,
                "rule": None,
                "action": "warn",
                "reason": "r" * u,
                "created_at": T0 + timedelta(minutes=u),
            }
            for u in range(30)
        ],
        llm_usage: [
            {"guild_id": g, "user_id": u, "day": date(2026, 11, 1 + u % 28), "requests": u, "tokens": u * 100}
            for u in range(200)
        ],
        safety_flags: [
            {
                "guild_id": g,
                "channel_id": 1,
                "message_id": 900 + i,
                "user_id": 7,
                "verdict": "flag",
                "categories": {"spam": 0.5 + i / 100},
                "scanner": "rules",
                "action": None,
                "content": "ü" * i,
                "created_at": T0,
            }
            for i in range(20)
        ],
        message_log: [
            {
                "message_id": 10**18 + i,
                "guild_id": None if i % 5 == 0 else g,
                "channel_id": 3,
                "author_id": 7,
                "content": f"hello {i} 👋",
                "created_at": T0 + timedelta(seconds=i),
            }
            for i in range(1000)
        ],
    }


async def _seed(url: str, members: int) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for table, rows in _seed_rows(members).items():
                await conn.execute(insert(table), rows)  # one executemany per table: bulk, fast
    finally:
        await engine.dispose()


async def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in await conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


@pytest.fixture
def source_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"


@pytest.mark.slow
def test_copy_sqlite_to_postgres_100k_rows(source_url: str, postgres_url: str) -> None:
    asyncio.run(_seed(source_url, MEMBERS))
    result = runner.invoke(db_app, ["copy", "--from", source_url, "--to", postgres_url, "--batch-size", "20000"])
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output
    source, target = asyncio.run(_dump(source_url)), asyncio.run(_dump(postgres_url))
    assert len(target["member_xp"]) == MEMBERS
    assert {k: len(v) for k, v in target.items()} == {k: len(v) for k, v in source.items()}
    assert target == source  # same contents: snowflakes, JSON, aware datetimes, dates, unicode, NULLs

    # Ids were copied as-is; the Postgres sequences must have moved past them.
    async def new_strike() -> int:
        engine = make_engine(postgres_url)
        try:
            return await add_strike(engine, 1, 2, "flood", expires_at=None)
        finally:
            await engine.dispose()

    assert asyncio.run(new_strike()) == max(r[0] for r in source["spam_strikes"]) + 1

    # A second copy into the now non-empty target is refused without --force.
    again = runner.invoke(db_app, ["copy", "--from", source_url, "--to", postgres_url])
    assert again.exit_code == 1
    assert "--force" in again.output


class _Interrupt(Exception):
    pass


class _StopAfterFirstBatch:
    def start_table(self, table: str, total: int) -> None:
        pass

    def advance(self, table: str, rows: int) -> None:
        if table == "member_xp":
            raise _Interrupt


def test_copy_resumes_after_an_interruption(source_url: str, db_url: str) -> None:
    asyncio.run(_seed(source_url, 3000))
    with pytest.raises(_Interrupt):
        asyncio.run(copy_database(source_url, db_url, batch_size=1000, progress=_StopAfterFirstBatch()))
    partial = asyncio.run(_dump(db_url))
    assert len(partial["member_xp"]) == 1000  # the first batch committed, the rest did not

    refused = runner.invoke(db_app, ["copy", "--from", source_url, "--to", db_url])
    assert refused.exit_code == 1
    resumed = runner.invoke(db_app, ["copy", "--from", source_url, "--to", db_url, "--force", "--batch-size", "700"])
    assert resumed.exit_code == 0, resumed.output
    assert asyncio.run(_dump(db_url)) == asyncio.run(_dump(source_url))


def test_copy_refuses_an_unmigrated_source(tmp_path: Path, sqlite_url: str) -> None:
    missing = runner.invoke(db_app, ["copy", "--from", f"sqlite:///{tmp_path / 'nope.db'}", "--to", sqlite_url])
    assert missing.exit_code == 2 and "not found" in missing.output
    assert not (tmp_path / "nope.db").exists()
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    runner.invoke(db_app, ["downgrade", "base", "--url", empty])  # creates the file, no tables
    result = runner.invoke(db_app, ["copy", "--from", empty, "--to", sqlite_url])
    assert result.exit_code == 1 and "bot db upgrade" in result.output


def test_cli_upgrade_current_downgrade(db_url: str) -> None:
    assert runner.invoke(db_app, ["current", "--url", db_url]).output.startswith("none")
    up = runner.invoke(db_app, ["upgrade", "--url", db_url])
    assert up.exit_code == 0 and "0001" in up.output
    assert "(head)" in runner.invoke(db_app, ["current", "--url", db_url]).output
    down = runner.invoke(db_app, ["downgrade", "base", "--url", db_url])
    assert down.exit_code == 0 and "none" in down.output


def test_url_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    assert Path(sqlite_url.split("///", 1)[1]).is_file()


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("mysql://steward:hunter2secret@db/steward", "unsupported database driver"),
        ("postgresql://steward:hunter2secret@127.0.0.1:1/steward", "cannot connect"),
        ("postgres://steward:hunter2secret@host.invalid/steward", "cannot connect"),
        ("://steward:hunter2secret@", "cannot parse"),
    ],
)
@pytest.mark.parametrize("command", [["current"], ["upgrade"], ["downgrade", "base"]])
def test_bad_url_is_one_masked_line_and_exit_2(url: str, expect: str, command: list[str]) -> None:
    result = runner.invoke(db_app, [*command, "--url", url])
    assert result.exit_code == 2
    assert expect in result.output
    assert "hunter2secret" not in result.output
    assert "***" in result.output
    assert result.output.count("\n") == 1


def test_copy_with_unreachable_target_masks_both_passwords(source_url: str) -> None:
    asyncio.run(_seed(source_url, 10))
    result = runner.invoke(db_app, ["copy", "--from", source_url, "--to", "postgresql://u:hunter2secret@127.0.0.1:1/x"])
    assert result.exit_code == 2 and "hunter2secret" not in result.output and "cannot connect" in result.output
