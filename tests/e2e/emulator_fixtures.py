"""Fixtures for end-to-end tests against the in-repo Discord emulator (bot/emulator).

    from tests.e2e.emulator_fixtures import make_client, running_client  # `emulator` comes via conftest.py

    @pytest.mark.anyio
    async def test_x(emulator):
        guild = emulator.create_guild("g")
        async with running_client(emulator, make_client()) as client:
            ...

`emulator` points nextcord's REST at the emulator for the test's duration and, at teardown, fails the test if
any request hit a route the emulator does not serve.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nextcord
import pytest

from bot.discord_api import current_api_base, use_api_base
from bot.emulator import Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator()
    await emu.start()
    previous = current_api_base()
    use_api_base(emu.api_base)
    try:
        yield emu
    finally:
        use_api_base(previous)
        await emu.stop()
    unknown = [f"{c['method']} {c['path']}" for c in emu.unknown_routes]
    assert not unknown, f"the bot called routes the emulator does not serve: {unknown}"


def make_client(**kwargs: Any) -> nextcord.Client:
    """A plain nextcord.Client configured for fast start-up against the emulator.

    guild_ready_timeout: nextcord waits this long after the last GUILD_CREATE before READY (default 2 s).
    Intents: message content and members are privileged on Discord; the emulator enforces them the same way.
    """
    intents = nextcord.Intents.default()
    intents.message_content = True
    intents.members = True
    kwargs.setdefault("intents", intents)
    kwargs.setdefault("guild_ready_timeout", 0.05)
    return nextcord.Client(**kwargs)


@contextlib.asynccontextmanager
async def running_client(emu: Emulator, client: nextcord.Client, timeout: float = 10.0) -> AsyncIterator[Any]:
    """Run `client.start(emu.token)` in the background until it is ready; close it on exit.

    If start-up fails (bad token, a crash in a handler of READY...) the client's own exception is raised here.
    """
    task = asyncio.create_task(client.start(emu.token))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises the client's error
            raise RuntimeError("nextcord client stopped before it was ready")
        if ready not in done:
            raise TimeoutError(f"nextcord client not ready within {timeout}s")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
