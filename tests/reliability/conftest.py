from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.reliability.procs import RedisServer, WorkerProcess
from tests.services import require_redis


@pytest.fixture
def shared_url() -> str:
    return require_redis()


@pytest.fixture
def raw(shared_url: str, namespace: str) -> Iterator[redis.Redis]:
    """A plain synchronous redis-py client, as another program speaking the contract would use."""
    client = redis.Redis.from_url(shared_url)
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_worker(tmp_path: Path, namespace: str) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(url: str, **settings: object) -> WorkerProcess:
        settings.setdefault("shutdown_grace", 10)
        w = WorkerProcess(url, namespace, tmp_path, **settings)
        started.append(w)
        return w

    try:
        yield start
    finally:
        for w in started:
            w.close()
