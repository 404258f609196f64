"""Member XP: atomic batched increments (write-behind target), leaderboard, rank, admin edits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.schema import member_xp
from bot.db.upsert import greatest, insert_for

MemberKey = tuple[int, int]  # (guild_id, user_id)


@dataclass(frozen=True, slots=True)
class XPDelta:
    """What one member earned since the last flush. `level` is the level the leveling core computed, if any."""

    xp: int
    messages: int
    last_xp_at: datetime | None
    level: int | None = None

    def merge(self, other: XPDelta) -> XPDelta:
        return XPDelta(
            xp=self.xp + other.xp,
            messages=self.messages + other.messages,
            last_xp_at=_max_or_none(self.last_xp_at, other.last_xp_at),
            level=_max_or_none(self.level, other.level),
        )


def _max_or_none[T: (int, datetime)](a: T | None, b: T | None) -> T | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass(frozen=True, slots=True)
class MemberXP:
    guild_id: int
    user_id: int
    xp: int
    level: int
    message_count: int
    last_xp_at: datetime | None


async def apply_xp_deltas(engine: AsyncEngine, deltas: Mapping[MemberKey, XPDelta]) -> int:
    """Add every delta in ONE transaction; returns the number of members written.

    Each row is `xp = member_xp.xp + :delta` in the database, so concurrent writers (two gateways) never lose an
    update. One executemany for all members: statements grow with active members, not with messages. Keys are
    sorted so that two writers lock rows in the same order on Postgres and cannot deadlock each other.
    """
    if not deltas:
        return 0
    dialect = engine.dialect
    ins = insert_for(dialect, member_xp)
    stmt = ins.on_conflict_do_update(
        index_elements=[member_xp.c.guild_id, member_xp.c.user_id],
        set_={
            "xp": member_xp.c.xp + ins.excluded.xp,
            "message_count": member_xp.c.message_count + ins.excluded.message_count,
            # Levels never go down through deltas (a stale writer may compute a lower one); set_xp can lower it.
            "level": greatest(dialect, member_xp.c.level, ins.excluded.level),
            "last_xp_at": greatest(dialect, member_xp.c.last_xp_at, ins.excluded.last_xp_at),
        },
    )
    rows = [
        {
            "guild_id": guild_id,
            "user_id": user_id,
            "xp": d.xp,
            "message_count": d.messages,
            "level": d.level or 0,
            "last_xp_at": d.last_xp_at,
        }
        for (guild_id, user_id), d in sorted(deltas.items())
    ]
    async with engine.begin() as conn:
        await conn.execute(stmt, rows)
    return len(rows)


def _member(row: object) -> MemberXP:
    return MemberXP(**row._mapping)  # type: ignore[attr-defined]


async def get_member_xp(engine: AsyncEngine, guild_id: int, user_id: int) -> MemberXP | None:
    query = select(member_xp).where(member_xp.c.guild_id == guild_id, member_xp.c.user_id == user_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return _member(row) if row else None


async def leaderboard(engine: AsyncEngine, guild_id: int, offset: int = 0, limit: int = 10) -> list[MemberXP]:
    """One page of the guild's members by XP, highest first (ties: lower user id first, so pages are stable)."""
    query = (
        select(member_xp)
        .where(member_xp.c.guild_id == guild_id)
        .order_by(member_xp.c.xp.desc(), member_xp.c.user_id)
        .offset(offset)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [_member(r) for r in await conn.execute(query)]


async def rank_of(engine: AsyncEngine, guild_id: int, user_id: int) -> int | None:
    """1-based position on the leaderboard (same ordering as `leaderboard`), or None if the member has no XP row."""
    me = member_xp.alias("me")
    query = (
        select(func.count())
        .select_from(member_xp.join(me, member_xp.c.guild_id == me.c.guild_id))
        .where(
            me.c.user_id == user_id,
            me.c.guild_id == guild_id,
            (member_xp.c.xp > me.c.xp) | and_(member_xp.c.xp == me.c.xp, member_xp.c.user_id <= me.c.user_id),
        )
    )
    exists = select(member_xp.c.xp).where(member_xp.c.guild_id == guild_id, member_xp.c.user_id == user_id)
    async with engine.connect() as conn:
        if (await conn.execute(exists)).first() is None:
            return None
        return int((await conn.execute(query)).scalar_one())


async def set_xp(engine: AsyncEngine, guild_id: int, user_id: int, xp: int, level: int) -> None:
    """Admin override: set absolute XP and level (creates the row if needed)."""
    ins = insert_for(engine.dialect, member_xp)
    stmt = ins.values(guild_id=guild_id, user_id=user_id, xp=xp, level=level).on_conflict_do_update(
        index_elements=[member_xp.c.guild_id, member_xp.c.user_id], set_={"xp": xp, "level": level}
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def delete_member_xp(engine: AsyncEngine, guild_id: int, user_id: int | None = None) -> int:
    """Forget one member's XP, or the whole guild's when user_id is None; returns rows deleted."""
    stmt = delete(member_xp).where(member_xp.c.guild_id == guild_id)
    if user_id is not None:
        stmt = stmt.where(member_xp.c.user_id == user_id)
    async with engine.begin() as conn:
        return (await conn.execute(stmt)).rowcount


__all__ = [
    "MemberKey",
    "MemberXP",
    "XPDelta",
    "apply_xp_deltas",
    "delete_member_xp",
    "get_member_xp",
    "leaderboard",
    "rank_of",
    "set_xp",
]
