"""The real nextcord 3.2 client, over real HTTP and a real websocket, against bot/emulator."""

from __future__ import annotations

import asyncio
import io

import nextcord
import pytest

from bot.emulator import Emulator
from tests.e2e.emulator_fixtures import emulator, make_client, running_client  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_login_ready_and_guild_visible(emulator: Emulator) -> None:
    guild = emulator.create_guild("Hobby Club")
    alice = emulator.create_user("alice")
    emulator.add_member(guild.id, alice.id)
    async with running_client(emulator, make_client()) as client:
        assert client.user is not None and client.user.id == emulator.bot.id
        seen = client.get_guild(guild.id)
        assert seen is not None and seen.name == "Hobby Club"
        assert seen.get_member(alice.id) is not None
        assert seen.get_channel(guild.system_channel_id) is not None
        assert client.application_id == emulator.application_id
    assert emulator.calls("GET", "/users/@me"), "login must go through GET /users/@me"


async def test_wrong_token_is_refused(emulator: Emulator) -> None:
    client = make_client()
    with pytest.raises(nextcord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
