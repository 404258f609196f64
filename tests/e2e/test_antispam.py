"""Anti-spam end to end: the real bot (`serve()`, as `bot run`) against the Discord emulator.

Bursts are posted back to back, so their snowflake timestamps (which the detector reads through
`message.created_at`) are naturally "now"; the only real waiting is the strike grace between two strikes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from bot import metrics
from bot.config import Config
from bot.db.moderation import count_live_strikes, list_mod_actions
from bot.emulator import Emulator, EmulatorRefused, Message
from bot.emulator.models import MODERATE_MEMBERS
from bot.gateway import available_cogs
from bot.runner import Runtime
from cogs.antispam._logic import StrikeGate
from tests.db.conftest import new_postgres_database
from tests.e2e.steward_fixtures import World, make_world, running_steward
from tests.openai_server import FakeOpenAI, reply

pytestmark = pytest.mark.anyio

MEMBER_ROUTE = "/guilds/{guild_id}/members/{user_id}"
GRACE = StrikeGate().grace
REFUSED = "You need the Manage Server permission to use /antispam."


def chatter() -> str:
    """Distinct, lower-case lines: a burst of these breaks only the flood rule."""
    return f"hey {secrets.token_hex(6)}"


async def burst(emu: Emulator, channel_id: int, author_id: int, count: int) -> list[Message]:
    return [await emu.post_message(channel_id, author_id, chatter()) for _ in range(count)]


async def wait_deleted(emu: Emulator, *messages: Message, timeout: float = 5.0) -> None:
    """Every event re-checks the world, so this returns as soon as the last of them is gone."""
    await emu.wait_for(lambda _: all(emu.world.find_message(m.id).deleted for m in messages), timeout=timeout)


async def actions_of(rt: Runtime, guild_id: int, user_id: int, count: int, timeout: float = 5.0) -> list[tuple]:
    """The member's mod actions, newest first, once `count` of them are recorded (they are written in the
    background after the Discord call)."""
    with anyio.fail_after(timeout):
        while True:
            actions = await list_mod_actions(rt.db, guild_id, user_id=user_id)
            if len(actions) >= count:
                return [(a.action, a.rule, a.moderator_id) for a in actions]
            await anyio.sleep(0.02)


def is_warning_for(user_id: int) -> Callable[[Message], bool]:
    return lambda m: m.content.startswith(f"<@{user_id}> please stop")


async def slash(emu: Emulator, world: World, user_id: int, sub: list[str], **options: Any) -> str:
    record = await emu.invoke_slash(world.guild_id, world.channel_id, user_id, "antispam", options, subcommand=sub)
    body = await record.response()
    assert body["data"]["flags"] & 64, "admin replies are ephemeral"
    return body["data"]["content"]


def timeouts(emu: Emulator, user_id: int) -> list[dict[str, Any]]:
    return [
        c
        for c in emu.calls("PATCH", MEMBER_ROUTE)
        if c["path"].endswith(f"/members/{user_id}") and "communication_disabled_until" in (c["json"] or {})
    ]


def counter(rule: str, action: str) -> float:
    return metrics.SPAM_ACTIONS.labels(rule=rule, action=action)._value.get()


def add_member(emu: Emulator, world: World, name: str, *, bot: bool = False, roles: list[int] | None = None) -> int:
    user = emu.create_user(name, bot=bot)
    emu.add_member(world.guild_id, user.id, roles=roles)
    return user.id


async def settle() -> None:
    """Give the bot time to act on what it was sent (for checks that something did NOT happen; each such test
    also shows the same input IS acted on when it should be, so a slow bot cannot make it pass vacuously)."""
    await anyio.sleep(0.5)


async def wait_embeds(emu: Emulator, channel_id: int, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    with anyio.fail_after(timeout):
        while len(messages := [m for m in emu.messages(channel_id) if m.embeds]) < count:  # noqa: ASYNC110
            await anyio.sleep(0.02)
    return [m.embeds[0] for m in messages]


def field_value(embed: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


def timeout_seconds(patch: dict[str, Any]) -> float:
    until = datetime.fromisoformat(patch["json"]["communication_disabled_until"])
    return (until - datetime.now(UTC)).total_seconds()


async def test_flood_is_deleted_warned_then_timed_out_on_the_second_strike(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    timeouts_before = counter("flood", "timeout")
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        rt.bot.get_cog("AntispamEvents").warning_lifetime = 1.0
        mark = emulator.events.mark()
        first = await burst(emulator, world.channel_id, world.alice_id, 7)  # more than 6 in 5 s
        warning = await emulator.wait_for_message(
            world.channel_id, since=mark, predicate=is_warning_for(world.alice_id)
        )
        await wait_deleted(emulator, first[-1])
        assert not any(emulator.world.find_message(m.id).deleted for m in first[:-1]), "only the flood is deleted"
        # The warning pings alice and nobody else, and the next rung is announced.
        assert warning.allowed_mentions == {"parse": [], "users": [world.alice_id]}
        assert warning.pinged_user_ids == [world.alice_id] and not warning.mention_everyone
        assert "timeout 5 min" in warning.content
        assert timeouts(emulator, world.alice_id) == [], "the first strike is only a warning"

        # Still flooding once the grace has passed: the second strike is a 5-minute timeout.
        await anyio.sleep(GRACE + 0.2)
        second = await emulator.post_message(world.channel_id, world.alice_id, chatter())
        await emulator.wait_for(lambda e: e.kind == "member_update", since=mark)
        await wait_deleted(emulator, second)
        patches = timeouts(emulator, world.alice_id)
        assert len(patches) == 1 and patches[0]["status"] == 200
        until = datetime.fromisoformat(patches[0]["json"]["communication_disabled_until"])
        assert 290 <= (until - datetime.now(UTC)).total_seconds() <= 300
        with pytest.raises(EmulatorRefused):
            await emulator.post_message(world.channel_id, world.alice_id, "let me talk")

        assert await actions_of(rt, world.guild_id, world.alice_id, 2) == [
            ("timeout:300", "flood", None),
            ("warn", "flood", None),
        ]
        assert await count_live_strikes(rt.db, world.guild_id, world.alice_id) == 2

        # The admin looks the member up and pardons them; the pardon is logged with who gave it.
        shown = await slash(emulator, world, world.admin_id, ["strikes"], member=world.alice_id)
        assert "has 2 live strike(s)" in shown and "timeout 1 h" in shown
        assert "timeout:300 (flood)" in shown and "warn (flood)" in shown
        assert await slash(emulator, world, world.admin_id, ["pardon"], member=world.alice_id) == (
            f"Pardoned <@{world.alice_id}>: 2 strike(s) cleared and their timeout lifted."
        )
        assert timeouts(emulator, world.alice_id)[-1]["json"]["communication_disabled_until"] is None
        await emulator.post_message(world.channel_id, world.alice_id, "thanks, I will behave")  # can talk again
        assert await count_live_strikes(rt.db, world.guild_id, world.alice_id) == 0
        shown = await slash(emulator, world, world.admin_id, ["strikes"], member=world.alice_id)
        assert "has 0 live strike(s)" in shown and "the next one means: warn" in shown
        assert (await actions_of(rt, world.guild_id, world.alice_id, 3))[0] == ("pardon", None, world.admin_id)
        await wait_deleted(emulator, warning)  # the warning cleans itself up
    assert counter("flood", "timeout") == timeouts_before + 1


async def test_raid_of_three_accounts_posting_one_link_loses_every_copy(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    carol_id = add_member(emulator, world, "carol")
    other = emulator.create_channel(world.guild_id, "offtopic")
    modlog = emulator.create_channel(world.guild_id, "mod-log")
    link = "https://free-nitro.example/claim?id=42"
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        assert await slash(emulator, world, world.admin_id, ["modlog"], channel=modlog.id) == (
            f"Anti-spam actions go to <#{modlog.id}>."
        )
        # Different words, one link, three accounts, two channels: no single message or member looks like spam.
        first = await emulator.post_message(world.channel_id, world.alice_id, f"free nitro for everyone {link}")
        second = await emulator.post_message(other.id, world.bob_id, f"omg claim it here {link}")
        await settle()
        assert not emulator.world.find_message(first.id).deleted, "two accounts are not a raid yet"
        third = await emulator.post_message(world.channel_id, carol_id, f"{link} hurry, ends today")
        await wait_deleted(emulator, first, second, third)

        # One bulk call for the two copies in the first channel, one delete in the other.
        bulk = emulator.calls("POST", "/channels/{channel_id}/messages/bulk-delete")
        assert [(c["path"], [int(i) for i in c["json"]["messages"]]) for c in bulk] == [
            (f"/channels/{world.channel_id}/messages/bulk-delete", [first.id, third.id])
        ]
        single = emulator.calls("DELETE", "/channels/{channel_id}/messages/{message_id}")
        assert [c["path"] for c in single if c["status"] == 204][:1] == [f"/channels/{other.id}/messages/{second.id}"]

        # Every raider gets a strike (a warning), recorded and posted to the mod log without pinging anyone.
        for user_id in (world.alice_id, world.bob_id, carol_id):
            assert await actions_of(rt, world.guild_id, user_id, 1) == [("warn", "raid", None)]
        embeds = await wait_embeds(emulator, modlog.id, 3)
        assert {e["description"].split(" ")[0] for e in embeds} == {
            f"<@{u}>" for u in (world.alice_id, world.bob_id, carol_id)
        }
        assert all(e["title"] == "Anti-spam: warn" for e in embeds)
        assert all("raid" in field_value(e, "Rules") for e in embeds)
        assert all(m.pinged_user_ids == [] and not m.mention_everyone for m in emulator.messages(modlog.id))
        # One warning for the whole raid, pinging exactly the three accounts, not one message per account.
        await emulator.wait_for_message(world.channel_id, since=third, predicate=lambda m: "please stop" in m.content)
        await settle()
        warnings = [m for m in emulator.messages(world.channel_id) if "please stop" in m.content]
        assert len(warnings) == 1 and not [m for m in emulator.messages(other.id) if "please stop" in m.content]
        assert sorted(warnings[0].pinged_user_ids) == sorted([world.alice_id, world.bob_id, carol_id])
        assert warnings[0].allowed_mentions["parse"] == [] and not warnings[0].mention_everyone


async def test_admins_moderators_bots_and_exemptions_are_never_punished(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    mods = emulator.create_role(world.guild_id, "Mods", permissions=1 << 13)  # MANAGE_MESSAGES only
    regulars = emulator.create_role(world.guild_id, "Regulars")
    mod_id = add_member(emulator, world, "mod", roles=[mods.id])
    regular_id = add_member(emulator, world, "regular", roles=[regulars.id])
    other_bot_id = add_member(emulator, world, "otherbot", bot=True)
    spam_ok = emulator.create_channel(world.guild_id, "spam-ok")
    thread = emulator.create_thread(spam_ok.id, "spam-ok thread")
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        # Only Manage Server may change anti-spam: a moderator with Manage Messages is refused.
        refused = await slash(emulator, world, mod_id, ["exempt", "add"], role=regulars.id)
        assert refused == "You need the Manage Server permission to use /antispam."
        assert await slash(emulator, world, world.admin_id, ["exempt", "add"], role=regulars.id) == (
            f"Anti-spam now ignores <@&{regulars.id}>."
        )
        assert await slash(emulator, world, world.admin_id, ["exempt", "add"], channel=spam_ok.id) == (
            f"Anti-spam now ignores <#{spam_ok.id}>."
        )

        shouting = "FREE STUFF FOR EVERYONE @everyone"  # caps and an @everyone attempt: spam from anyone else
        sent = []
        for channel_id, user_id in (
            (world.channel_id, world.admin_id),
            (world.channel_id, mod_id),
            (world.channel_id, other_bot_id),
            (world.channel_id, regular_id),
            (spam_ok.id, world.alice_id),
            (thread.id, world.alice_id),
        ):
            sent += await burst(emulator, channel_id, user_id, 8)
            sent.append(await emulator.post_message(channel_id, user_id, shouting))
        await settle()
        assert not [m.id for m in sent if emulator.world.find_message(m.id).deleted]
        assert [c for c in emulator.calls() if c["method"] in ("PATCH", "DELETE") or "bulk" in c["path"]] == []
        assert await list_mod_actions(rt.db, world.guild_id) == []

        # The same from bob, who is nobody special, is spam; and once the channel is no longer exempt, so is alice's.
        shout = await emulator.post_message(world.channel_id, world.bob_id, shouting)
        await wait_deleted(emulator, shout)
        assert await slash(emulator, world, world.admin_id, ["exempt", "remove"], channel=spam_ok.id) == (
            f"Anti-spam no longer ignores <#{spam_ok.id}>."
        )
        shout = await emulator.post_message(spam_ok.id, world.alice_id, shouting)
        await wait_deleted(emulator, shout)
        for user_id in (world.bob_id, world.alice_id):
            assert await actions_of(rt, world.guild_id, user_id, 1) == [("warn", "everyone", None)]
        assert len(await list_mod_actions(rt.db, world.guild_id)) == 2


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "" (the default SQLite file in the data dir) or a brand-new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield ""
        return
    url, drop = new_postgres_database()
    try:
        yield url
    finally:
        drop()


async def test_set_applies_from_the_next_message_and_survives_a_restart(
    emulator: Emulator, tmp_path: Path, database_url: str
) -> None:
    world = make_world(emulator)
    carol_id = add_member(emulator, world, "carol")

    def same_database(cfg: Config) -> None:
        cfg.database.url = database_url

    async with running_steward(emulator, tmp_path, cogs=["antispam"], customize=same_database) as rt:
        assert rt.db.dialect.name == ("postgresql" if database_url else "sqlite")
        calm = await burst(emulator, world.channel_id, world.alice_id, 4)  # chat under the default (> 6 in 5 s)
        assert await slash(emulator, world, world.alice_id, ["set"], rule="flood_max_messages", value="1") == REFUSED
        assert await slash(emulator, world, world.admin_id, ["set"], rule="flood_max_messages", value="lots") == (
            "Not changed: flood_max_messages: expected a whole number, got 'lots'"
        )
        for rule, value, shown in (
            ("flood_max_messages", "3", "3"),
            ("ladder", "timeout:60, kick", "timeout:60,kick"),
            ("caps", "off", "off"),
        ):
            assert await slash(emulator, world, world.admin_id, ["set"], rule=rule, value=value) == (
                f"Anti-spam `{rule}` is now `{shown}`; it applies from the next message."
            )
        assert not any(emulator.world.find_message(m.id).deleted for m in calm)

        # At once: bob's fourth quick message is a flood, and the guild's first rung is a 1-minute timeout.
        flood = await burst(emulator, world.channel_id, world.bob_id, 4)
        await wait_deleted(emulator, flood[-1])
        assert await actions_of(rt, world.guild_id, world.bob_id, 1) == [("timeout:60", "flood", None)]
        [patch] = timeouts(emulator, world.bob_id)
        assert 50 <= timeout_seconds(patch) <= 60

    async with running_steward(emulator, tmp_path, cogs=["antispam"], customize=same_database) as rt:
        shown = await slash(emulator, world, world.admin_id, ["show"])
        assert "flood_max_messages=3" in shown and "Ladder: timeout 1 min → kick" in shown and "off: caps" in shown
        # Caps are off: carol's shouting stays; her fourth message in a row is still a flood.
        shouting = await emulator.post_message(world.channel_id, carol_id, "THIS IS ALL IN CAPITALS")
        flood = await burst(emulator, world.channel_id, carol_id, 3)
        await wait_deleted(emulator, flood[-1])
        assert not emulator.world.find_message(shouting.id).deleted
        assert not any(emulator.world.find_message(m.id).deleted for m in flood[:-1])
        assert await actions_of(rt, world.guild_id, carol_id, 1) == [("timeout:60", "flood", None)]
        [patch] = timeouts(emulator, carol_id)
        assert 50 <= timeout_seconds(patch) <= 60


async def test_strikes_expire_after_the_guilds_strike_expiry(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        await slash(emulator, world, world.admin_id, ["set"], rule="strike_expiry", value="1")
        first = await burst(emulator, world.channel_id, world.alice_id, 7)
        await wait_deleted(emulator, first[-1])
        await actions_of(rt, world.guild_id, world.alice_id, 1)
        # Past the grace (and so past the 1 s expiry) she floods again: a first strike again, not a timeout.
        await anyio.sleep(GRACE + 0.2)
        again = await emulator.post_message(world.channel_id, world.alice_id, chatter())
        await wait_deleted(emulator, again)
        assert await actions_of(rt, world.guild_id, world.alice_id, 2) == [("warn", "flood", None)] * 2
        assert timeouts(emulator, world.alice_id) == []
        assert await count_live_strikes(rt.db, world.guild_id, world.alice_id) == 1


async def test_spam_earns_no_xp_and_never_reaches_the_llm_with_the_default_cogs(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    # Every default cog that exists in this tree (anti-spam must be one of them) loads with anti-spam.
    cogs = [name for name in Config().discord.cogs if name in available_cogs()]
    assert {"antispam", "leveling", "llm"} <= set(cogs)
    fake_openai.script(reply("Start with a birdhouse."))

    def customize(cfg: Config) -> None:
        cfg.llm.base_url = fake_openai.base_url
        cfg.llm.api_key = "sk-test"
        cfg.llm.model = "fake-model"

    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=cogs, customize=customize) as rt:
        assert {type(c).__name__ for c in rt.bot.cogs.values()} >= {"AntispamEvents", "LevelingEvents", "LLMEvents"}
        leveling = rt.bot.services.extras["leveling"]
        # A first message would earn XP, and a mention gets an AI answer; as spam it gets neither.
        spam = await emulator.post_message(
            world.channel_id, world.bob_id, f"<@{emulator.bot.id}> FREE NITRO FOR EVERYONE, CLICK NOW"
        )
        await wait_deleted(emulator, spam)
        ask = await emulator.post_message(
            world.channel_id, world.alice_id, f"<@{emulator.bot.id}> what is a good first woodworking project?"
        )
        answer = await emulator.wait_for_message(
            world.channel_id, since=ask, timeout=10, predicate=lambda m: m.content == "Start with a birdhouse."
        )
        assert answer.reference and int(answer.reference["message_id"]) == ask.id
        assert await leveling.total(world.guild_id, world.alice_id) > 0
        assert await leveling.total(world.guild_id, world.bob_id) == 0
    assert len(fake_openai.chat_requests) == 1
    assert "NITRO" not in str(fake_openai.chat_requests)


async def test_the_whole_ladder_warn_5_min_1_h_then_kick(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        rt.bot.get_cog("AntispamEvents").gate.grace = 0.0  # every flagged message is a strike: no waiting here
        burst_ = await burst(emulator, world.channel_id, world.alice_id, 7)
        await wait_deleted(emulator, burst_[-1])
        expected = [("warn", "flood", None)]
        assert await actions_of(rt, world.guild_id, world.alice_id, 1) == expected
        for action, seconds in (("timeout:300", 300), ("timeout:3600", 3600)):
            flagged = await emulator.post_message(world.channel_id, world.alice_id, chatter())
            await wait_deleted(emulator, flagged)
            expected.insert(0, (action, "flood", None))
            assert await actions_of(rt, world.guild_id, world.alice_id, len(expected)) == expected
            assert seconds - 10 <= timeout_seconds(timeouts(emulator, world.alice_id)[-1]) <= seconds
            emulator.member(world.guild_id, world.alice_id).communication_disabled_until = None  # a mod lifts it
        mark = emulator.events.mark()
        flagged = await emulator.post_message(world.channel_id, world.alice_id, chatter())
        kicked = await emulator.wait_for(lambda e: e.kind == "kick", since=mark)
        assert kicked.data["user_id"] == str(world.alice_id) and kicked.data["reason"] == "anti-spam: flood"
        await wait_deleted(emulator, flagged)
        assert world.alice_id not in emulator.world.guilds[world.guild_id].members
        assert (await actions_of(rt, world.guild_id, world.alice_id, 4))[0] == ("kick", "flood", None)


async def test_a_punishment_discord_refuses_is_logged_as_failed_and_the_rest_still_happens(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    modlog = emulator.create_channel(world.guild_id, "mod-log")
    guild = emulator.world.guilds[world.guild_id]
    [bot_role] = emulator.member(world.guild_id, emulator.bot.id).roles
    guild.roles[bot_role].permissions &= ~MODERATE_MEMBERS  # the server forgot to let the bot time people out
    async with running_steward(emulator, tmp_path, cogs=["antispam"]) as rt:
        rt.bot.get_cog("AntispamEvents").gate.grace = 0.0
        await slash(emulator, world, world.admin_id, ["modlog"], channel=modlog.id)
        flood = await burst(emulator, world.channel_id, world.alice_id, 7)
        await wait_deleted(emulator, flood[-1])
        await actions_of(rt, world.guild_id, world.alice_id, 1)
        again = await emulator.post_message(world.channel_id, world.alice_id, chatter())
        await wait_deleted(emulator, again)  # deleting still works
        await actions_of(rt, world.guild_id, world.alice_id, 2)
        [refused] = timeouts(emulator, world.alice_id)
        assert refused["status"] == 403
        latest = (await list_mod_actions(rt.db, world.guild_id, user_id=world.alice_id))[0]
        assert latest.action == "timeout:300" and latest.reason is not None
        assert latest.reason.endswith("; strike 2; FAILED: 403 Missing Permissions")
        embeds = await wait_embeds(emulator, modlog.id, 2)
        assert [e["title"] for e in embeds] == ["Anti-spam: warn", "Anti-spam: timeout 5 min (failed)"]
        assert field_value(embeds[1], "Error") == "403 Missing Permissions"
