"""`bot sync-commands` against the emulator: prints the diff, applies it over REST, and a rerun has nothing to do."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.emulator import Emulator
from tests.ops.conftest import run_bot

pytestmark = pytest.mark.anyio


def _env(emu: Emulator) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": emu.token,
        "STEWARD_DISCORD__API_BASE": emu.api_base,
        "STEWARD_DISCORD__COGS": "status",
    }


async def _seed(emu: Emulator, path: str, commands: list[dict]) -> None:
    """Commands registered earlier (by an older version of the bot), straight through the REST API."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {emu.token}"}) as http:
        async with http.put(f"{emu.api_base}/applications/{emu.application_id}{path}", json=commands) as resp:
            assert resp.status == 200


def _names(emu: Emulator, guild_id: int | None) -> dict[str, str]:
    return {c.name: c.body.get("description", "") for c in emu.world.guild_commands(guild_id)}


async def test_global_sync_shows_the_diff_then_has_nothing_to_change(emulator: Emulator, tmp_path: Path) -> None:
    await _seed(
        emulator,
        "/commands",
        [
            {"name": "status", "type": 1, "description": "an old description"},
            {"name": "oldcommand", "type": 1, "description": "a command no cog defines any more"},
        ],
    )
    dry = await run_bot("sync-commands", "--dry-run", env=_env(emulator), cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr.decode()
    out = dry.stdout.decode()
    assert "~ changed /status" in out and "- removed /oldcommand" in out and "dry run" in out
    assert set(_names(emulator, None)) == {"status", "oldcommand"}  # nothing sent

    first = await run_bot("sync-commands", env=_env(emulator), cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    out = first.stdout.decode()
    assert "global: synced" in out and "~ changed /status" in out and "- removed /oldcommand" in out
    assert _names(emulator, None) == {"status": "Check that the bot's workers answer, and how fast."}

    second = await run_bot("sync-commands", env=_env(emulator), cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()
    assert "nothing to change" in second.stdout.decode()
    assert "synced" not in second.stdout.decode()
    assert len(emulator.calls("PUT", "/applications/{app_id}/commands")) == 2  # the seed and the one sync
    assert emulator.gateway.sessions == {}  # REST only: no gateway connection was opened


async def test_guild_sync_adds_commands_to_that_guild_only(emulator: Emulator, tmp_path: Path) -> None:
    guild = emulator.create_guild("Test server")
    first = await run_bot("sync-commands", "--guild", str(guild.id), env=_env(emulator), cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    assert f"guild {guild.id}: synced" in first.stdout.decode()
    assert "+ added   /status" in first.stdout.decode()
    assert set(_names(emulator, guild.id)) == {"status"}
    assert _names(emulator, None) == {}  # global untouched

    second = await run_bot("sync-commands", "--guild", str(guild.id), env=_env(emulator), cwd=tmp_path)
    assert "nothing to change" in second.stdout.decode()


async def test_bad_token_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    env = {**_env(emulator), "DISCORD_TOKEN": "not-the-token"}
    proc = await run_bot("sync-commands", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    err = proc.stderr.decode().strip()
    assert err.splitlines() == [err] and "token" in err


async def test_the_default_cogs_sync_without_touching_the_database(emulator: Emulator, tmp_path: Path) -> None:
    """Cogs that keep state need an engine to load; sync must not need a reachable database."""
    env = {
        "DISCORD_TOKEN": emulator.token,
        "STEWARD_DISCORD__API_BASE": emulator.api_base,  # and the default cog list
        "DATABASE_URL": "postgresql://steward:secret@127.0.0.1:1/nowhere",  # nothing listens on port 1
    }
    result = await run_bot("sync-commands", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert set(_names(emulator, None)) == {
        "status", "antispam", "rank", "leaderboard", "xp", "levels", "events", "llm", "safety"
    }  # fmt: skip
    assert "secret" not in result.stdout.decode() + result.stderr.decode()
