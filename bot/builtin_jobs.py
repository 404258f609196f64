"""Jobs every worker serves regardless of features."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from bot.worker import JobContext, job


@job("ping")
async def ping(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Answer with who served the job and when, so `bot queue ping` and /status can measure the round trip."""
    return {
        "worker_id": ctx.worker_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "sent_at": payload.get("sent_at"),
        "served_at": time.time(),
        "attempt": ctx.attempt,
    }
