"""The leveling cog's non-Discord logic: known totals with write-behind XP, admin edits, purges, reply text.

Runs on a real SQLite database (migrated to head) in the test's temp directory.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db import xp as xp_db
from bot.db.engine import make_engine
from bot.db.xp_writer import XPBuffer
from bot.leveling import LevelingSettings, total_xp_for_level
from cogs.leveling._format import leaderboard_lines, settings_lines
from cogs.leveling._service import LevelingService, MessageInfo
from cogs.leveling._totals import KnownTotals
from cogs.leveling.settings import LevelingStore

pytestmark = pytest.mark.anyio
G, ALICE, BOB, CHANNEL = 1, 10, 11, 100


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'steward.db'}")
    await migrate.upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


def _service(engine: AsyncEngine, clock: Clock) -> LevelingService:
    service = LevelingService(engine, XPBuffer(engine), clock=clock)
    service.core._rng = random.Random(7)  # reproducible amounts; the rules, not the dice, are under test
    return service


def _msg(user: int, text: str, *, spam: bool = False, channel: int = CHANNEL) -> MessageInfo:
    return MessageInfo(G, user, channel, [], text, spam)


async def test_level_up_is_reported_once_across_flushes(engine: AsyncEngine) -> None:
    clock = Clock()
    service = _service(engine, clock)
    level_ups = []
    for i in range(12):
        clock.now += 61
        change = await service.on_message(_msg(ALICE, f"message {i} with words"))
        assert change is not None
        if change.leveled_up:
            level_ups.append(change.new_level)
        if i % 3 == 0:
            await service.buffer.flush()  # flushing must neither re-announce nor lose a level-up
    total = await service.total(G, ALICE)
    stored = await xp_db.get_member_xp(engine, G, ALICE)
    pending = service.buffer.pending.get((G, ALICE))
    assert stored is not None and stored.xp + (pending.xp if pending else 0) == total
    assert 12 * 15 <= total <= 12 * 25
    expected = [lvl for lvl in range(1, 5) if total_xp_for_level(lvl) <= total]
    assert level_ups == expected


async def test_a_fresh_service_counts_stored_and_pending_xp(engine: AsyncEngine) -> None:
    buffer = XPBuffer(engine)
    await xp_db.set_xp(engine, G, ALICE, 90, 0)
    buffer.add(G, ALICE, 5, at=None)
    service = LevelingService(engine, buffer, clock=Clock())
    assert await service.total(G, ALICE) == 95
    await buffer.flush()
    assert await service.total(G, ALICE) == 95  # cached: the flush does not count twice


async def test_no_xp_for_spam_repeats_and_within_the_cooldown(engine: AsyncEngine) -> None:
    clock = Clock()
    service = _service(engine, clock)
    clock.now = 100
    assert await service.on_message(_msg(ALICE, "spam spam spam", spam=True)) is None
    assert await service.on_message(_msg(ALICE, "a real message")) is not None
    clock.now += 30
    assert await service.on_message(_msg(ALICE, "another real message")) is None
    clock.now += 61
    assert await service.on_message(_msg(ALICE, "another real message")) is None  # repeat of the previous one
    assert service.buffer.pending[(G, ALICE)].messages == 1


async def test_admin_edits_write_through_and_report_the_level(engine: AsyncEngine) -> None:
    clock = Clock()
    service = _service(engine, clock)
    clock.now = 61
    awarded = await service.on_message(_msg(BOB, "hello there everyone"))
    assert awarded is not None
    change = await service.admin_change(G, BOB, "give", 100)
    assert change.new_total == awarded.new_total + 100 and change.new_level == 1
    assert service.buffer.pending == {}  # flushed first, so the stored row is the whole truth
    change = await service.admin_change(G, BOB, "remove", 10_000)
    assert (change.new_total, change.old_level, change.new_level) == (0, 1, 0)
    change = await service.admin_change(G, BOB, "set", total_xp_for_level(10))
    assert change.new_level == 10
    row = await xp_db.get_member_xp(engine, G, BOB)
    assert row is not None and (row.xp, row.level) == (4675, 10)
    with pytest.raises(ValueError):
        await service.admin_change(G, BOB, "give", -5)


async def test_purge_removes_stored_and_pending_xp(engine: AsyncEngine) -> None:
    clock = Clock()
    service = _service(engine, clock)
    await xp_db.set_xp(engine, G, ALICE, 500, 2)
    clock.now = 61
    await service.on_message(_msg(ALICE, "last words before leaving"))
    await service.purge_member(G, ALICE)
    await service.buffer.flush()
    assert await xp_db.get_member_xp(engine, G, ALICE) is None
    assert await service.total(G, ALICE) == 0


async def test_settings_changes_apply_at_once_and_persist(engine: AsyncEngine) -> None:
    clock = Clock()
    service = _service(engine, clock)
    await service.store.update(G, lambda s: LevelingSettings(no_xp_channel_ids=frozenset({CHANNEL})))
    clock.now = 61
    assert await service.on_message(_msg(ALICE, "in the quiet channel")) is None
    assert await service.on_message(_msg(ALICE, "elsewhere", channel=CHANNEL + 1)) is not None
    reread = await LevelingStore(engine).get(G)
    assert reread.no_xp_channel_ids == frozenset({CHANNEL})


async def test_rewards_keep_one_role_per_level(engine: AsyncEngine) -> None:
    store = LevelingStore(engine)
    await store.set_reward(G, 5, 111)
    await store.set_reward(G, 5, 222)
    await store.set_reward(G, 10, 333)
    assert await store.rewards(G) == {5: 222, 10: 333}
    assert await store.remove_reward(G, 5) == 1
    assert await store.rewards(G) == {10: 333}


def test_known_totals_evicts_least_recently_used() -> None:
    totals = KnownTotals(max_members=2)
    totals.set((G, 1), 10)
    totals.set((G, 2), 20)
    assert totals.get((G, 1)) == 10  # touch 1: 2 becomes the oldest
    totals.set((G, 3), 30)
    assert totals.get((G, 2)) is None and len(totals) == 2
    assert totals.setdefault((G, 1), 99) == 10


def test_leaderboard_lines_number_from_the_page_start() -> None:
    lines = leaderboard_lines([(5, 4675), (6, 100)], first_rank=11)
    assert lines == ["**#11** <@5> · level 10 · 4,675 XP", "**#12** <@6> · level 1 · 100 XP"]


def test_settings_lines_show_every_setting() -> None:
    lines = settings_lines(LevelingSettings(role_multipliers={7: 1.5}, announce_mode="dm"))
    assert "Announcements: dm (channel: none)" in lines
    assert "Role multipliers: <@&7> ×1.5" in lines
