from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_engine
from bot.db.xp import (
    XPDelta,
    apply_xp_deltas,
    delete_member_xp,
    get_member_xp,
    leaderboard,
    rank_of,
    set_xp,
)
from bot.db.xp_writer import XPBuffer

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
G = 111_111_111_111_111_111  # > 2**53: snowflakes must survive as exact 64-bit integers


async def test_deltas_add_up_and_keep_the_max_level_and_time(engine: AsyncEngine) -> None:
    await apply_xp_deltas(engine, {(G, 1): XPDelta(xp=10, messages=1, last_xp_at=T0, level=2)})
    await apply_xp_deltas(
        engine,
        {
            (G, 1): XPDelta(xp=5, messages=2, last_xp_at=T0 - timedelta(minutes=5), level=1),
            (G, 2): XPDelta(xp=7, messages=1, last_xp_at=T0, level=None),
        },
    )
    one = await get_member_xp(engine, G, 1)
    assert one is not None
    assert (one.xp, one.message_count, one.level) == (15, 3, 2)
    assert one.last_xp_at == T0  # an older timestamp from a stale writer does not move it back
    assert one.last_xp_at.tzinfo is not None
    two = await get_member_xp(engine, G, 2)
    assert two is not None and (two.xp, two.level) == (7, 0)
    assert await get_member_xp(engine, G, 3) is None


async def test_leaderboard_rank_set_and_delete(engine: AsyncEngine) -> None:
    xps = {1: 50, 2: 300, 3: 120, 4: 120, 5: 5}
    await apply_xp_deltas(engine, {(G, u): XPDelta(x, 1, T0) for u, x in xps.items()})
    await apply_xp_deltas(engine, {(G + 1, 9): XPDelta(10_000, 1, T0)})  # another guild never leaks in
    page1 = await leaderboard(engine, G, offset=0, limit=3)
    assert [(m.user_id, m.xp) for m in page1] == [(2, 300), (3, 120), (4, 120)]
    page2 = await leaderboard(engine, G, offset=3, limit=3)
    assert [m.user_id for m in page2] == [1, 5]
    for position, member in enumerate(page1 + page2, start=1):
        assert await rank_of(engine, G, member.user_id) == position
    assert await rank_of(engine, G, 999) is None

    await set_xp(engine, G, 5, xp=1000, level=7)
    m5 = await get_member_xp(engine, G, 5)
    assert m5 is not None and (m5.xp, m5.level, m5.message_count) == (1000, 7, 1)
    assert await rank_of(engine, G, 5) == 1
    await set_xp(engine, G, 6, xp=3, level=0)  # creates the row
    assert await rank_of(engine, G, 6) == 6

    assert await delete_member_xp(engine, G, 5) == 1
    assert await get_member_xp(engine, G, 5) is None
    assert await delete_member_xp(engine, G) == 5
    assert await leaderboard(engine, G) == []
    assert len(await leaderboard(engine, G + 1)) == 1


async def test_statements_per_flush_grow_with_members_not_messages(engine: AsyncEngine) -> None:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    buf = XPBuffer(engine)
    for i in range(5000):
        buf.add(G, i % 20, 3, at=T0 + timedelta(seconds=i))
    assert await buf.flush() == 20
    assert len(statements) == 1
    top = await leaderboard(engine, G, limit=1)
    assert top[0].xp == 750 and top[0].message_count == 250


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_two_engines_flushing_concurrently_lose_nothing(db_url: str, engine: AsyncEngine, seed: int) -> None:
    """Two gateway processes = two engines on the same database, flushing overlapping members at the same time."""
    rng = random.Random(seed)
    second = make_engine(db_url)
    expected_xp: dict[int, int] = defaultdict(int)
    expected_msgs: dict[int, int] = defaultdict(int)
    try:
        buffers = [XPBuffer(engine), XPBuffer(second)]

        async def writer(buf: XPBuffer, rounds: int) -> None:
            for _ in range(rounds):
                for _ in range(rng.randint(1, 200)):
                    user, xp = rng.randint(1, 40), rng.randint(1, 25)
                    buf.add(G, user, xp, at=T0)
                    expected_xp[user] += xp
                    expected_msgs[user] += 1
                await buf.flush()
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            for buf in buffers:
                tg.start_soon(writer, buf, 25)
        assert all(not b.pending for b in buffers)
    finally:
        await second.dispose()
    got = {m.user_id: (m.xp, m.message_count) for m in await leaderboard(engine, G, limit=1000)}
    assert got == {u: (expected_xp[u], expected_msgs[u]) for u in expected_xp}


async def test_failed_flush_keeps_the_deltas(engine: AsyncEngine) -> None:
    buf = XPBuffer(engine)
    buf.add(G, 1, 10, at=T0)
    async with engine.begin() as conn:  # make the table disappear for a moment: a real failure, not a mock
        await conn.execute(text("ALTER TABLE member_xp RENAME TO member_xp_away"))
    with pytest.raises(Exception, match="member_xp"):
        await buf.flush()
    buf.add(G, 1, 5, at=T0 + timedelta(seconds=1))  # keeps accruing meanwhile
    assert buf.pending[(G, 1)].xp == 15
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE member_xp_away RENAME TO member_xp"))
    assert await buf.flush() == 1
    member = await get_member_xp(engine, G, 1)
    assert member is not None and (member.xp, member.message_count) == (15, 2)
    assert member.last_xp_at == T0 + timedelta(seconds=1)


async def test_run_periodically_flushes_on_interval_and_on_shutdown(engine: AsyncEngine) -> None:
    buf = XPBuffer(engine)
    async with anyio.create_task_group() as tg:
        tg.start_soon(buf.run_periodically, 0.05)
        buf.add(G, 1, 4, at=T0)
        with anyio.fail_after(5):
            while await get_member_xp(engine, G, 1) is None:  # noqa: ASYNC110 - polling the DB, no event to wait on
                await anyio.sleep(0.02)
        buf.add(G, 1, 6, at=T0)
        tg.cancel_scope.cancel()  # shutdown: the last delta must still be written
    member = await get_member_xp(engine, G, 1)
    assert member is not None and member.xp == 10
