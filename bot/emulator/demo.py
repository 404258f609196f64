"""A small ready-made world for `python -m bot.emulator` and `bot console`: one guild, two channels, users."""

from __future__ import annotations

from dataclasses import dataclass

from bot.emulator.models import KICK_MEMBERS, MANAGE_MESSAGES, MODERATE_MEMBERS
from bot.emulator.server import Emulator


@dataclass(frozen=True)
class DemoWorld:
    guild_id: int
    general_id: int
    bot_commands_id: int
    alice_id: int
    bob_id: int
    mod_id: int
    moderator_role_id: int


def seed_demo(emu: Emulator, guild_name: str = "Steward Playground") -> DemoWorld:
    guild = emu.create_guild(guild_name)
    assert guild.system_channel_id is not None
    bot_commands = emu.create_channel(guild.id, "bot-commands", topic="try slash commands here")
    moderator = emu.create_role(guild.id, "Moderator", permissions=MANAGE_MESSAGES | KICK_MEMBERS | MODERATE_MEMBERS)
    alice, bob, mod = emu.create_user("alice"), emu.create_user("bob"), emu.create_user("mod")
    emu.add_member(guild.id, alice.id)
    emu.add_member(guild.id, bob.id)
    emu.add_member(guild.id, mod.id, roles=[moderator.id])
    return DemoWorld(
        guild_id=guild.id,
        general_id=guild.system_channel_id,
        bot_commands_id=bot_commands.id,
        alice_id=alice.id,
        bob_id=bob.id,
        mod_id=mod.id,
        moderator_role_id=moderator.id,
    )
