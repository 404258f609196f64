"""`bot run` as a real OS process against the in-test emulator, watched through its own `/metrics`.

async with bot_process(emulator, tmp_path, "gateway", env={...}) as bot:
    await until(lambda: bot.metric("steward_gateway_connected"), 1.0, "connected")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.emulator import Emulator
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    metrics_port: int
    log_path: Path
    http: aiohttp.ClientSession

    async def metric(self, name: str) -> float | None:
        """The value of an unlabelled sample on the process's /metrics, or None if absent or unreachable."""
        try:
            async with self.http.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as resp:
                text = await resp.text()
        except aiohttp.ClientError:
            return None
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else None

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text()[-tail:]

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd or docker would, and the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)


async def until(probe: Callable[[], Awaitable[object]], want: Callable[[object], bool], what: str, timeout: float = 30):  # type: ignore[no-untyped-def]
    """Poll `probe` until `want(value)`; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    value: object = None
    while time.monotonic() < deadline:
        value = await probe()
        if want(value):
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {value!r})")


@contextlib.asynccontextmanager
async def bot_process(
    emulator: Emulator, data_dir: Path, role: str, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[BotProcess]:
    """Start `bot run --role=ROLE ARGS` on the emulator; SIGTERM (then kill) it on exit."""
    os.makedirs(data_dir, exist_ok=True)
    port = free_port()
    full_env = {
        **os.environ,
        "DISCORD_TOKEN": emulator.token,
        "STEWARD_DISCORD__API_BASE": emulator.api_base,
        "STEWARD_DISCORD__GUILD_READY_TIMEOUT": "0.05",
        "STEWARD_BOT__DATA_DIR": str(data_dir),
        "STEWARD_METRICS__PORT": str(port),
        **(env or {}),
    }
    log_path = data_dir / f"bot-{role}-{port}.log"
    with log_path.open("w") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "cli.py"), "run", f"--role={role}", *args,
            env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    async with aiohttp.ClientSession() as http:
        bot = BotProcess(proc, port, log_path, http)
        try:
            yield bot
        finally:
            if proc.returncode is None:
                try:
                    await bot.stop()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
