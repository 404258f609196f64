"""`bot queue stats` shows each live worker's jobs per minute (from its heartbeat: processed since it started)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.config import Config
from queue_backends import get_task_queue
from tests.ops.conftest import run_bot
from tests.services import require_redis

pytestmark = pytest.mark.anyio


async def test_queue_stats_shows_jobs_per_minute(redis_client: object, namespace: str, tmp_path: Path) -> None:
    cfg = Config()
    cfg.queue.redis_url = require_redis()
    cfg.queue.namespace = namespace
    queue = get_task_queue(cfg)
    try:
        await queue.heartbeat("w-ops", {"started": time.time() - 600, "processed": 30, "in_flight": 1})
        await queue.enqueue("ping", {})
    finally:
        await queue.close()
    proc = await run_bot(
        "queue", "stats", env={"REDIS_URL": cfg.queue.redis_url, "TASK_NAMESPACE": namespace}, cwd=tmp_path
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    assert "1 waiting" in out
    assert "worker w-ops: alive" in out and "30 jobs (3.0/min since start)" in out
