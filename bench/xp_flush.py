"""Write-behind XP flush cost: statements per flush and flush time, 100k messages from 1k members.

    .ci/env python bench/xp_flush.py [--messages 100000] [--members 1000] [--postgres-url URL]

SQLite runs in a temp file; PostgreSQL in a temporary database created (and dropped) on the server behind
--postgres-url (default $TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/test); skipped if unreachable.
For contrast it also times the naive way: one UPDATE per message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy import event, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.db.schema import member_xp
from bot.db.xp_writer import XPBuffer

GUILD = 123_456_789_012_345_678


class StatementCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        # An executemany is one statement; SQLite's explicit BEGIN is bookkeeping, not work.
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1


@asynccontextmanager
async def sqlite_db() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


@asynccontextmanager
async def postgres_db(base: str) -> AsyncIterator[str]:
    admin_dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"steward_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def messages(n: int, members: int, seed: int = 1) -> list[tuple[int, int, datetime]]:
    rng = random.Random(seed)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    return [(rng.randrange(members), rng.randint(15, 25), t0 + timedelta(milliseconds=i)) for i in range(n)]


async def bench_backend(url: str, msgs: list[tuple[int, int, datetime]], naive_sample: int) -> dict[str, float]:
    await upgrade(url)
    engine = make_engine(url)
    try:
        counter = StatementCounter(engine)
        buf = XPBuffer(engine)
        start = time.perf_counter()
        for user, xp, at in msgs:
            buf.add(GUILD, user, xp, at=at)
        add_s = time.perf_counter() - start

        counter.count = 0
        start = time.perf_counter()
        written = await buf.flush()  # first flush inserts every member
        first_s, first_n = time.perf_counter() - start, counter.count

        for user, xp, at in msgs:
            buf.add(GUILD, user, xp, at=at)
        counter.count = 0
        start = time.perf_counter()
        await buf.flush()  # steady state: every member already has a row
        second_s, second_n = time.perf_counter() - start, counter.count

        # Naive baseline: one UPDATE per message, in one transaction, on a sample (extrapolated).
        sample = msgs[:naive_sample]
        start = time.perf_counter()
        async with engine.begin() as conn:
            for user, xp, _ in sample:
                await conn.execute(
                    update(member_xp)
                    .where(member_xp.c.guild_id == GUILD, member_xp.c.user_id == user)
                    .values(xp=member_xp.c.xp + xp)
                )
        naive_s = (time.perf_counter() - start) * len(msgs) / len(sample)
        return {
            "members": written,
            "add_s": add_s,
            "first_n": first_n,
            "first_s": first_s,
            "second_n": second_n,
            "second_s": second_s,
            "naive_s": naive_s,
        }
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    msgs = messages(args.messages, args.members)
    console = Console(width=150)
    results: dict[str, dict[str, float]] = {}
    async with sqlite_db() as url:
        results["SQLite (WAL)"] = await bench_backend(url, msgs, args.naive_sample)
    try:
        async with postgres_db(args.postgres_url) as url:
            results["PostgreSQL"] = await bench_backend(url, msgs, args.naive_sample)
    except (OSError, asyncpg.PostgresError) as exc:
        console.print(f"[yellow]PostgreSQL skipped: {exc}[/]")

    table = Table(title=f"XP write-behind: {args.messages:,} messages from {args.members:,} members, one flush")
    for col in (
        "backend",
        "members written",
        "buffer add (ms)",
        "statements, 1st flush",
        "1st flush (ms)",
        "statements, 2nd flush",
        "2nd flush (ms)",
        "naive 1 UPDATE/msg (ms, extrap.)",
    ):
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['members']:,.0f}",
            f"{r['add_s'] * 1000:.0f}",
            f"{r['first_n']:.0f}",
            f"{r['first_s'] * 1000:.0f}",
            f"{r['second_n']:.0f}",
            f"{r['second_s'] * 1000:.0f}",
            f"{r['naive_s'] * 1000:,.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
