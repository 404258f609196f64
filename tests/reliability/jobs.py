"""Jobs only the reliability tests register (imported into the worker subprocess before the CLI starts)."""

from __future__ import annotations

import os
from typing import Any

import anyio

from bot.worker import JobContext, job


@job("test_sleep")
async def sleep_job(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Stay in flight for a while, then say who ran it, so tests can kill a worker mid-job."""
    await anyio.sleep(float(payload.get("seconds", 1.0)))
    return {"n": payload.get("n"), "pid": os.getpid(), "attempt": ctx.attempt}


@job("test_echo")
async def echo_job(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    return {"echo": payload}
