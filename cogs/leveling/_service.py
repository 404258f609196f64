"""The leveling cog's state and rules glue, without nextcord: XP awards, totals, admin edits, purges.

Events and commands both go through one `LevelingService`, so the known totals, the write-behind buffer and the
anti-farm state never disagree. Awarded XP goes into the `XPBuffer` (flushed every few seconds and on shutdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import metrics
from bot.db import xp as xp_db
from bot.db.schema import member_xp
from bot.db.xp_writer import XPBuffer
from bot.leveling import LevelChange, LevelingCore, apply_award, apply_xp, level_for_xp, set_xp
from cogs.leveling._totals import KnownTotals
from cogs.leveling.settings import LevelingStore

AdminOp = Literal["give", "remove", "set"]
MAX_ADMIN_XP = 1_000_000_000  # keeps totals far inside BIGINT and the curve's fast table


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the leveling rules need from a Discord message."""

    guild_id: int
    user_id: int
    channel_id: int
    role_ids: Collection[int]
    content: str
    is_spam: bool


class LevelingService:
    def __init__(
        self,
        engine: AsyncEngine,
        buffer: XPBuffer,
        *,
        clock: Callable[[], float] = time.monotonic,
        store: LevelingStore | None = None,
        totals: KnownTotals | None = None,
    ) -> None:
        self.engine = engine
        self.buffer = buffer
        self.clock = clock  # the cooldown's time source; tests swap in a simulated one
        self.store = store or LevelingStore(engine)
        self.totals = totals or KnownTotals()
        self.core = LevelingCore(self.store.cached)

    async def total(self, guild_id: int, user_id: int) -> int:
        """The member's total XP including unflushed awards."""
        key = (guild_id, user_id)
        known = self.totals.get(key)
        if known is not None:
            return known
        row = await xp_db.get_member_xp(self.engine, guild_id, user_id)
        pending = self.buffer.pending.get(key)
        loaded = (row.xp if row else 0) + (pending.xp if pending else 0)
        return self.totals.setdefault(key, loaded)

    async def on_message(self, info: MessageInfo) -> LevelChange | None:
        """Award XP for one message if the rules allow; the level change, or None when no XP was earned."""
        await self.store.get(info.guild_id)  # loads the cache the synchronous core reads
        award = self.core.on_message(
            info.guild_id, info.user_id, info.channel_id, info.role_ids, info.content, self.clock(), info.is_spam
        )
        if award is None:
            return None
        old = await self.total(info.guild_id, info.user_id)
        change = apply_award(old, award)
        self.totals.set((info.guild_id, info.user_id), change.new_total)
        self.buffer.add(info.guild_id, info.user_id, award.xp, at=datetime.now(UTC), level=change.new_level)
        metrics.XP_AWARDED.inc(award.xp)
        return change

    async def admin_change(self, guild_id: int, user_id: int, op: AdminOp, amount: int) -> LevelChange:
        """/xp give|remove|set: written at once (not buffered), so the leaderboard shows it immediately."""
        if isinstance(amount, bool) or not 0 <= amount <= MAX_ADMIN_XP:
            raise ValueError(f"amount must be between 0 and {MAX_ADMIN_XP:,}")
        await self.buffer.flush()  # the stored total is then the whole truth
        self.totals.forget((guild_id, user_id))
        old = await self.total(guild_id, user_id)
        if op == "give":
            change = apply_xp(old, amount)
        elif op == "remove":
            change = apply_xp(old, -amount)
        elif op == "set":
            change = set_xp(old, amount)
        else:
            raise ValueError(f"unknown operation {op!r}")
        new_total = min(change.new_total, MAX_ADMIN_XP)
        await xp_db.set_xp(self.engine, guild_id, user_id, new_total, level_for_xp(new_total))
        self.totals.set((guild_id, user_id), new_total)
        return LevelChange(change.old_level, level_for_xp(new_total), new_total)

    async def purge_member(self, guild_id: int, user_id: int) -> None:
        """Forget a member's XP (they left and the guild does not keep XP)."""
        await self.buffer.flush()  # else their unflushed XP would be written back after the delete
        await xp_db.delete_member_xp(self.engine, guild_id, user_id)
        self.totals.forget((guild_id, user_id))
        self.core.forget_member(guild_id, user_id)

    async def rank(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """(total XP, 1-based leaderboard position or 0 when the member has none), after writing pending XP."""
        await self.buffer.flush()
        total = await self.total(guild_id, user_id)
        position = await xp_db.rank_of(self.engine, guild_id, user_id)
        return total, position or 0

    async def leaderboard_page(self, guild_id: int, page: int, per_page: int) -> tuple[list[xp_db.MemberXP], int]:
        """(rows of the 1-based `page`, number of pages) with pending XP written first."""
        await self.buffer.flush()
        rows = await xp_db.leaderboard(self.engine, guild_id, offset=(page - 1) * per_page, limit=per_page)
        count = await _member_count(self.engine, guild_id)
        return rows, max(1, -(-count // per_page))

    async def members_with_xp(self, guild_id: int, batch: int = 200) -> list[tuple[int, int]]:
        """Every (user_id, total XP) of the guild, for /levels sync."""
        await self.buffer.flush()
        out: list[tuple[int, int]] = []
        offset = 0
        while True:
            rows = await xp_db.leaderboard(self.engine, guild_id, offset=offset, limit=batch)
            out.extend((r.user_id, r.xp) for r in rows)
            if len(rows) < batch:
                return out
            offset += batch


async def _member_count(engine: AsyncEngine, guild_id: int) -> int:
    query = select(func.count()).select_from(member_xp).where(member_xp.c.guild_id == guild_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
