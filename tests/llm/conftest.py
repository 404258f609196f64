from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from bot.config import Config
from bot.llm.provider import close_clients
from bot.worker import Worker, load_handlers
from queue_backends.base import QueueBackend
from tests.openai_server import FakeOpenAI


@pytest.fixture
def llm_config(fake_openai: FakeOpenAI) -> Config:
    cfg = Config()
    cfg.llm.base_url = fake_openai.base_url
    cfg.llm.api_key = "sk-test-SECRET-key-123"
    cfg.llm.model = "fake-model"
    cfg.llm.max_retries = 0  # retries are the worker's job in these tests, so counts are predictable
    cfg.safety.guard_base_url = fake_openai.base_url
    cfg.queue.shutdown_grace = 1.0
    cfg.queue.heartbeat_interval = 0.5
    cfg.queue.heartbeat_ttl = 2.0
    return cfg


async def with_worker(
    backend: QueueBackend, cfg: Config, body: Callable[[Worker], Awaitable[Any]], concurrency: int = 4
) -> None:
    """Run a real Worker with every registered job module while `body` runs."""
    worker = Worker(backend, cfg, handlers=load_handlers(), concurrency=concurrency)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        try:
            await body(worker)
        finally:
            worker.stop()
    await close_clients(worker.state)
