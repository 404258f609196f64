"""The anti-spam cog's decisions without Discord: strike gating, deletion batches, ladder rungs, reply text, and
the per-guild settings store on real SQLite and PostgreSQL databases (migrated to head, dropped afterwards)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.antispam import DEFAULT_SETTINGS, Punishment, Rule, SpamSettings, StrikeLadder, Verdict
from bot.db.guild_settings import get_settings, set_settings
from cogs.antispam._logic import (
    BULK_DELETE_MAX,
    StrikeGate,
    describe_punishment,
    everyone_attempt,
    format_duration,
    group_deletions,
    primary_rule,
    punishment_for,
    reason_text,
)
from cogs.antispam.commands import describe_settings
from cogs.antispam.events import modlog_embed
from cogs.antispam.settings import FEATURE, GuildAntispam, SettingsStore
from tests.db.conftest import db_url, engine, postgres_url, sqlite_url  # noqa: F401 - the DB fixtures, both backends

G, ALICE, BOB, CAROL = 1, 10, 11, 12


# -- rules, rungs and text -----------------------------------------------------------------------------------------


def test_the_most_telling_rule_names_the_action() -> None:
    assert primary_rule({Rule.DUPLICATES, Rule.RAID, Rule.FLOOD}) is Rule.RAID
    assert primary_rule([Rule.CAPS, Rule.FLOOD]) is Rule.FLOOD
    with pytest.raises(ValueError):
        primary_rule([])


@pytest.mark.parametrize(
    ("content", "attempt"),
    [
        ("hey @everyone look", True),
        ("@here", True),
        ("mail me@heresy.org", False),
        ("everyone here", False),
        ("", False),
    ],
)
def test_everyone_attempt_is_read_from_the_text(content: str, attempt: bool) -> None:
    assert everyone_attempt(content) is attempt


def test_rungs_follow_the_pure_ladder_and_repeat_the_top() -> None:
    settings = SpamSettings(ladder=(Punishment("warn"), Punishment("timeout", 60), Punishment("kick")))
    assert [str(punishment_for(n, settings)) for n in range(1, 6)] == ["warn", "timeout:60", "kick", "kick", "kick"]
    # The cog counts live strikes in the database; the pure ladder counts timestamps: they must agree.
    for live in range(6):
        strikes = [100.0 + i for i in range(live)]
        assert StrikeLadder.next_strike(strikes, 110.0, settings).action == punishment_for(live + 1, settings)
    assert [describe_punishment(p) for p in DEFAULT_SETTINGS.ladder] == ["warn", "timeout 5 min", "timeout 1 h", "kick"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45 s"), (300, "5 min"), (3600, "1 h"), (86400, "1 d"), (90, "90 s")]
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_deletions_group_per_channel_in_order_without_repeats_in_bulk_sized_batches() -> None:
    refs = [(1, 5), (2, 6), (1, 7), (1, 5)] + [(3, i) for i in range(BULK_DELETE_MAX + 1)]
    grouped = group_deletions(refs)
    assert grouped[1] == [[5, 7]] and grouped[2] == [[6]]
    assert [len(batch) for batch in grouped[3]] == [BULK_DELETE_MAX, 1]
    assert grouped[3][1] == [BULK_DELETE_MAX]


def test_reason_lists_rules_in_priority_order() -> None:
    assert reason_text({Rule.CAPS, Rule.RAID}, 3) == "anti-spam: raid, caps; 3 message(s) deleted"


# -- the strike gate -----------------------------------------------------------------------------------------------


def _plan(gate: StrikeGate, author: int, now: float, *, members=(), rules=(Rule.FLOOD,), delete=((1, 1),)):
    return gate.plan(G, author, members or (author,), rules, delete, now, DEFAULT_SETTINGS)


def test_a_burst_earns_one_strike_per_grace_period() -> None:
    gate = StrikeGate(grace=2.0)
    assert _plan(gate, ALICE, 100.0).strike_member_ids == (ALICE,)
    assert _plan(gate, ALICE, 101.9, delete=((1, 2),)).strike_member_ids == ()
    assert _plan(gate, BOB, 101.9, delete=((1, 3),)).strike_member_ids == (BOB,), "grace is per member"
    assert _plan(gate, ALICE, 102.0, delete=((1, 4),)).strike_member_ids == (ALICE,)


def test_a_raid_strikes_each_account_once_per_raid_window() -> None:
    gate = StrikeGate(grace=2.0)
    raid = (Rule.RAID,)
    first = _plan(gate, CAROL, 100.0, members=(ALICE, BOB, CAROL), rules=raid, delete=((1, 1), (1, 2), (1, 3)))
    assert first.strike_member_ids == (CAROL, ALICE, BOB)
    # A fourth account joins 10 s later: only they get a strike, and only their copy is still to delete.
    dave = 13
    later = _plan(
        gate, dave, 110.0, members=(ALICE, BOB, CAROL, dave), rules=raid, delete=((1, 1), (1, 2), (1, 3), (1, 4))
    )
    assert later.strike_member_ids == (dave,)
    assert later.delete == ((1, 4),)
    # Past the raid window the same accounts raiding again are struck again.
    again = _plan(gate, ALICE, 100.0 + DEFAULT_SETTINGS.raid_window, members=(ALICE, BOB), rules=raid, delete=((1, 9),))
    assert again.strike_member_ids == (ALICE, BOB)


def test_a_pardon_lets_the_next_offence_count_at_once() -> None:
    gate = StrikeGate(grace=2.0)
    _plan(gate, ALICE, 100.0)
    gate.forget(G, ALICE)
    assert _plan(gate, ALICE, 100.5, delete=((1, 2),)).strike_member_ids == (ALICE,)


def test_the_gate_is_bounded() -> None:
    gate = StrikeGate(grace=2.0, max_entries=3)
    for user in range(10):
        _plan(gate, user, 100.0, delete=((1, user),))
    assert len(gate._last_strike) == 3 and len(gate._deleted) == 3
    # The oldest were dropped: user 0 could be struck again; user 9 is still within the grace.
    assert _plan(gate, 0, 100.5, delete=((1, 100),)).strike_member_ids == (0,)
    assert _plan(gate, 9, 100.5, delete=((1, 101),)).strike_member_ids == ()


# -- what admins and moderators read -------------------------------------------------------------------------------


def test_show_names_the_ladder_exemptions_and_switched_off_rules() -> None:
    settings = DEFAULT_SETTINGS.with_setting("caps", "off").with_setting("exempt_channel_ids", "55")
    text = describe_settings(settings, 77)
    assert "· off: caps" in text
    assert "Ladder: warn → timeout 5 min → timeout 1 h → kick (strikes expire after 1 h)" in text
    assert "exempt channels: <#55>" in text and "Mod log: <#77>" in text
    assert "flood_max_messages=6" in text and "invite_allowlist=none" in text
    listed = describe_settings(settings.with_setting("blocked_domains", "scam.ru, evil.com"), None)
    assert "blocked_domains=evil.com,scam.ru, " in listed  # lists read back the way admins type them
    assert len(describe_settings(settings, None)) < 2000


def test_modlog_embed_says_who_what_and_whether_it_failed() -> None:
    verdict = Verdict(frozenset({Rule.FLOOD}), ((5, 1),), frozenset({ALICE}))
    ok = modlog_embed(ALICE, 5, Punishment("timeout", 300), 2, 3600, verdict, 1, None).to_dict()
    assert ok["title"] == "Anti-spam: timeout 5 min" and ok["description"] == f"<@{ALICE}> in <#5>"
    assert {f["name"]: f["value"] for f in ok["fields"]} == {
        "Rules": "flood",
        "Strike": "2 (expires after 1 h)",
        "Messages deleted": "1",
    }
    failed = modlog_embed(ALICE, 5, Punishment("kick"), 4, 3600, verdict, 1, "403 Missing Permissions").to_dict()
    assert failed["title"] == "Anti-spam: kick (failed)"
    assert failed["fields"][-1] == {"name": "Error", "value": "403 Missing Permissions", "inline": False}


# -- per-guild settings in the database ----------------------------------------------------------------------------


def test_a_row_holds_only_what_differs_from_the_defaults() -> None:
    config = GuildAntispam(DEFAULT_SETTINGS.with_setting("flood_max_messages", "3"), modlog_channel_id=9)
    assert config.to_row() == {"flood_max_messages": 3, "modlog_channel_id": 9}
    assert GuildAntispam.from_row(config.to_row()) == config
    assert GuildAntispam().to_row() == {}
    with pytest.raises(ValueError, match="modlog_channel_id"):
        GuildAntispam.from_row({"modlog_channel_id": "general"})


@pytest.mark.anyio
async def test_settings_are_stored_and_read_back_by_a_fresh_store(engine: AsyncEngine) -> None:  # noqa: F811
    store = SettingsStore(engine)
    assert store.spam_settings(G) == DEFAULT_SETTINGS  # never loaded: the defaults
    updated = DEFAULT_SETTINGS.with_setting("ladder", "timeout:60,ban")
    await store.update(G, spam=updated)
    await store.update(G, modlog_channel_id=42)
    assert store.spam_settings(G) == updated  # the cache serves the detector at once
    assert await get_settings(engine, G, FEATURE) == {"ladder": ["timeout:60", "ban"], "modlog_channel_id": 42}
    fresh = SettingsStore(engine)  # a restart
    assert await fresh.get(G) == GuildAntispam(updated, 42)
    assert (await fresh.get(G + 1)).spam == DEFAULT_SETTINGS


@pytest.mark.anyio
async def test_a_corrupted_row_is_logged_and_ignored(engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    await set_settings(engine, G, FEATURE, {"flood_max_messages": "six"})
    with caplog.at_level(logging.ERROR, logger="cogs.antispam.settings"):
        assert await SettingsStore(engine).get(G) == GuildAntispam()
    assert "flood_max_messages" in caplog.text and "using defaults" in caplog.text
