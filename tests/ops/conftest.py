"""Ops tests: the emulator fixture, and running the real `bot` command as a subprocess (the test's event loop keeps
serving the emulator meanwhile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio

from tests.e2e.emulator_fixtures import emulator  # noqa: F401

BOT = str(Path(sys.executable).parent / "bot")
_SCRUB = ("DISCORD_TOKEN", "STATUS_WEBHOOK", "REDIS_URL", "DATABASE_URL", "STEWARD_CONFIG")


async def run_bot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`bot ARGS...` with only the given settings (no config.toml, no stray variables from the developer's shell)."""
    base = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("STEWARD_")}
    return await anyio.run_process([BOT, *args], env={**base, **env}, cwd=cwd, check=False)
