"""Message content for features that need it (LLM context, safety review), with a retention purge."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import message_log, safety_flags
from bot.db.upsert import insert_for

DEFAULT_RETENTION_DAYS = 30
RETENTION_INTERVAL = 6 * 3600.0  # seconds between two purges; the first runs at start
PURGE_GRACE = 30.0  # seconds one purge may take, even once shutdown began

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    message_id: int
    guild_id: int | None
    channel_id: int
    author_id: int
    content: str
    created_at: datetime


async def log_message(
    engine: AsyncEngine,
    *,
    message_id: int,
    guild_id: int | None,
    channel_id: int,
    author_id: int,
    content: str,
    created_at: datetime,
) -> None:
    """Store (or, for an edited message, replace) one message's content."""
    ins = insert_for(engine.dialect, message_log).values(
        message_id=message_id,
        guild_id=guild_id,
        channel_id=channel_id,
        author_id=author_id,
        content=content,
        created_at=created_at,
    )
    stmt = ins.on_conflict_do_update(index_elements=[message_log.c.message_id], set_={"content": ins.excluded.content})
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def recent_messages(engine: AsyncEngine, channel_id: int, *, limit: int = 20) -> list[LoggedMessage]:
    """The channel's newest messages, returned oldest first (conversation order)."""
    query = (
        select(message_log)
        .where(message_log.c.channel_id == channel_id)
        .order_by(message_log.c.created_at.desc(), message_log.c.message_id.desc())
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = [LoggedMessage(**r._mapping) for r in await conn.execute(query)]
    return rows[::-1]


async def purge_messages_older_than(
    engine: AsyncEngine, days: int = DEFAULT_RETENTION_DAYS, *, now: datetime | None = None
) -> int:
    """Delete logged messages older than `days` and blank old safety-flag content; returns messages deleted."""
    if days < 0:
        raise ValueError("retention days must be >= 0")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    async with engine.begin() as conn:
        deleted = (await conn.execute(delete(message_log).where(message_log.c.created_at < cutoff))).rowcount
        await conn.execute(
            update(safety_flags)
            .where(safety_flags.c.created_at < cutoff, safety_flags.c.content.is_not(None))
            .values(content=None)
        )
    return deleted


async def run_retention(engine: AsyncEngine, days: int, interval: float = RETENTION_INTERVAL) -> None:
    """The purge job: at start and then every `interval` seconds, until cancelled. Idempotent, so several gateway
    processes may each run it."""
    while True:
        try:
            deleted = 0
            # Shielded: a query cancelled half-way (shutdown right after start) leaves an aiosqlite connection
            # whose forced close hangs the engine's dispose; the bound keeps a stuck database from holding shutdown.
            with anyio.CancelScope(shield=True), anyio.move_on_after(PURGE_GRACE):
                deleted = await purge_messages_older_than(engine, days)
            if deleted:
                log.info("retention: deleted %d stored message(s) older than %d day(s)", deleted, days)
        except Exception:
            log.exception("retention purge failed; it runs again in %.0f s", interval)
        await anyio.sleep(interval)
