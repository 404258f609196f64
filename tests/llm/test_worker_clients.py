"""A worker closes the API clients its jobs cached, when it stops (no connection outlives the event loop)."""

from __future__ import annotations

import anyio
import pytest

from bot.config import Config
from bot.worker import Worker, load_handlers
from queue_backends.memory import MemoryQueue
from tests.openai_server import FakeOpenAI, reply

pytestmark = pytest.mark.anyio


async def test_worker_shutdown_closes_cached_openai_clients(fake_openai: FakeOpenAI, llm_config: Config) -> None:
    fake_openai.script(reply("hi"))
    queue = MemoryQueue()
    worker = Worker(queue, llm_config, handlers=load_handlers(), concurrency=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        task = await queue.enqueue("llm_reply", {"prompt": "hello", "username": "a", "user_id": 1, "stream": False})
        assert (await queue.wait_for_result(task.job_id, 5))["status"] == "ok"
        (client,) = worker.state["openai_clients"].values()
        assert not client.is_closed()
        worker.stop()
    assert client.is_closed()
    assert "openai_clients" not in worker.state
