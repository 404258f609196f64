from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.openai_server import FakeOpenAI
from tests.services import require_redis


@pytest.fixture
def anyio_backend() -> str:
    # The bot runs on asyncio (nextcord needs it); anyio's structured concurrency sits on top.
    return "asyncio"


@pytest.fixture
def namespace() -> str:
    """A Redis key namespace of this test's own, so tests never see each other's keys."""
    return f"steward-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_client(namespace: str) -> AsyncIterator[object]:
    """A redis.asyncio client on the real server; deletes every key of the test's namespace afterwards."""
    import redis.asyncio as aioredis

    url = require_redis()
    client = aioredis.from_url(url)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """The OpenAI-compatible test server (tests/openai_server.py) on a free port, for the real `openai` client."""
    async with FakeOpenAI() as server:
        yield server
