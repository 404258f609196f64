"""Community events end to end (welcome, auto-role, deletion audit) plus the settings' own rules."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import Emulator
from cogs.events._render import DeletedMessage, audit_fields, render_welcome
from cogs.events.settings import EventsSettings, EventsSettingsError
from tests.e2e.steward_fixtures import World, make_world, running_steward

pytestmark = pytest.mark.anyio


async def _configure(emu: Emulator, world: World, sub: str, options: dict[str, Any]) -> dict[str, Any]:
    record = await emu.invoke_slash(
        world.guild_id, world.channel_id, world.admin_id, "events", options, subcommand=["config", sub]
    )
    return await record.response(timeout=10)


async def test_a_join_gets_the_welcome_pinging_only_the_newcomer_and_the_auto_role(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    lobby = emulator.create_channel(world.guild_id, "lobby")
    member_role = emulator.create_role(world.guild_id, "Member")
    newcomer = emulator.create_user("carol")
    # With leveling loaded too: both cogs listen to joins and register commands side by side.
    async with running_steward(emulator, tmp_path, cogs=["leveling", "events"]):
        await _configure(
            emulator, world, "welcome", {"channel": lobby.id, "template": "@everyone hi {user}, welcome to {server}!"}
        )
        reply = await _configure(emulator, world, "autorole", {"role": member_role.id})
        assert "Auto-role" in reply["data"]["embeds"][0]["description"]
        since = emulator.events.mark()
        await emulator.member_join(world.guild_id, newcomer.id)
        welcome = await emulator.wait_for_message(lobby.id, since=since)
        await emulator.wait_for(
            lambda e: (
                e.kind == "role_add"
                and int(e.data["user_id"]) == newcomer.id
                and int(e.data["role_id"]) == member_role.id
            ),
            since=since,
        )
    assert welcome.content == f"@everyone hi <@{newcomer.id}>, welcome to Hobby Club!"
    assert welcome.allowed_mentions is not None and welcome.allowed_mentions["parse"] == []
    assert [int(u) for u in welcome.allowed_mentions["users"]] == [newcomer.id]
    assert welcome.pinged_user_ids == [newcomer.id]
    assert not welcome.mention_everyone
    assert member_role.id in emulator.member(world.guild_id, newcomer.id).roles


async def test_deleting_a_message_posts_the_audit_embed_without_pings(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    audit = emulator.create_channel(world.guild_id, "mod-log")
    async with running_steward(emulator, tmp_path, cogs=["events"]):
        await _configure(emulator, world, "audit", {"channel": audit.id})
        doomed = await emulator.post_message(world.channel_id, world.alice_id, f"oops <@{world.bob_id}> @everyone")
        # The bot must have the message in its cache before it is deleted: wait until nextcord saw it.
        await emulator.wait_for(lambda e: e.kind == "message_create" and int(e.data["id"]) == doomed.id)
        since = emulator.events.mark()
        await emulator.delete_message(doomed)
        entry = await emulator.wait_for_message(audit.id, since=since)
    embed = entry.embeds[0]
    assert embed["title"] == "Message deleted"
    assert embed["description"] == f"oops <@{world.bob_id}> @everyone"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Author"].startswith(f"<@{world.alice_id}> (alice")
    assert fields["Channel"] == f"<#{world.channel_id}>"
    assert entry.allowed_mentions is not None and entry.allowed_mentions["parse"] == []
    assert not entry.allowed_mentions.get("users") and not entry.allowed_mentions.get("roles")
    assert entry.pinged_user_ids == [] and not entry.mention_everyone


async def test_without_configuration_nothing_is_posted(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    newcomer = emulator.create_user("dave")
    async with running_steward(emulator, tmp_path, cogs=["events"]):
        message = await emulator.post_message(world.channel_id, world.alice_id, "hello")
        await emulator.member_join(world.guild_id, newcomer.id)
        await emulator.delete_message(message)
        # A command answered after the events means the gateway is past them; the sleep covers their handlers.
        reply = await _configure(emulator, world, "show", {})
        assert "Welcome channel: off" in reply["data"]["embeds"][0]["description"]
        await asyncio.sleep(0.3)
    posted = [m for c in emulator.world.channels.values() for m in c.messages.values()]
    assert [m for m in posted if m.author_id == emulator.bot.id and m.interaction_id is None] == []


async def test_members_cannot_change_event_settings(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["events"]) as rt:
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.alice_id, "events", {"channel": world.channel_id},
            subcommand=["config", "audit"],
        )  # fmt: skip
        reply = await record.response(timeout=10)
        assert "Manage Server" in reply["data"]["content"]
        assert (await rt.bot.services.extras["events_store"].get(world.guild_id)).audit_channel_id is None


# --- the pure parts ---


def test_settings_round_trip_through_json_with_string_ids() -> None:
    settings = EventsSettings(welcome_channel_id=2**60, welcome_template="hi {user}", autorole_id=5)
    data = settings.to_dict()
    assert data["welcome_channel_id"] == str(2**60)
    assert EventsSettings.from_dict(data) == settings
    assert EventsSettings.from_dict({}) == EventsSettings()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"welcome_channel_id": "general"}, "welcome_channel_id"),
        ({"autorole_id": True}, "autorole_id"),
        ({"welcome_template": "   "}, "welcome_template"),
        ({"welcome_template": "x" * 1001}, "welcome_template"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(EventsSettingsError) as info:
        EventsSettings.from_dict(data)
    assert info.value.key == key


def test_welcome_template_fills_only_known_placeholders() -> None:
    text = render_welcome("{user} joined {server} (#{member_count}) {0.__class__} {other}", "<@1>", "Club", 42)
    assert text == "<@1> joined Club (#42) {0.__class__} {other}"
    assert len(render_welcome("{server}" * 10, "<@1>", "x" * 300, None)) == 2000


def test_audit_fields_for_uncached_and_cached_messages() -> None:
    description, fields = audit_fields(DeletedMessage(7, 8, None, None, None))
    assert "not in the bot's cache" in description
    assert ("Author", "unknown") in fields
    description, fields = audit_fields(DeletedMessage(7, 8, 9, "alice", "x" * 5000, ("a.png",)))
    assert len(description) == 4096 and description.endswith("…")
    assert ("Attachments", "a.png") in fields
