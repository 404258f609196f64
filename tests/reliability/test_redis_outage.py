"""Issue 8: Redis crashes under load and comes back; workers and producers resume by themselves, nothing is lost.

The test Redis keeps an fsync-always AOF (as a deployment with persistence would), so what Redis acknowledged
survives its crash; what it refused during the outage the producer was told about (QueueUnavailable).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

import anyio
import pytest

import bot.jobclient
from bot.config import Config
from bot.jobclient import JobClient
from bot.worker import HANDLERS, Worker, load_handlers
from queue_backends.base import QueueUnavailable
from queue_backends.memory import MemoryQueue
from queue_backends.redis import RedisQueue
from tests.reliability.procs import RedisServer, WorkerProcess

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]

OUTAGE = 5.0


def _config(url: str, namespace: str) -> Config:
    cfg = Config()
    cfg.queue.redis_url = url
    cfg.queue.namespace = namespace
    cfg.queue.heartbeat_interval = 0.3
    cfg.queue.heartbeat_ttl = 1.2
    cfg.queue.shutdown_grace = 5
    return cfg


async def test_redis_crash_and_restart_under_load_loses_nothing(
    persistent_redis: RedisServer, namespace: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(persistent_redis.url, worker_concurrency=16, heartbeat_interval=0.3, heartbeat_ttl=1.2)
    cfg = _config(persistent_redis.url, namespace)
    queue = RedisQueue(persistent_redis.url, namespace, heartbeat_ttl=1.2)
    accepted: list[str] = []
    refused = 0
    results: dict[str, dict] = {}
    phase = {"name": "before"}
    by_phase: dict[str, int] = {"before": 0, "outage": 0, "after": 0}

    async with anyio.create_task_group() as tg:
        client = JobClient(queue, cfg, tg)  # the gateway's client: no fallback, fails fast while Redis is down

        async def await_result(job_id: str, task) -> None:  # type: ignore[no-untyped-def]
            results[job_id] = await client.wait(task, timeout=40)

        async def produce() -> None:
            nonlocal refused
            n = 0
            while phase["name"] != "done":
                try:
                    task = await client.enqueue("test_sleep", {"seconds": 0.05, "n": n})
                except QueueUnavailable:
                    refused += 1
                else:
                    accepted.append(task.job_id)
                    by_phase[phase["name"]] += 1
                    tg.start_soon(await_result, task.job_id, task)
                n += 1
                await anyio.sleep(0.02)

        tg.start_soon(produce)
        await anyio.sleep(2.0)
        phase["name"] = "outage"
        persistent_redis.stop(signal.SIGKILL)
        await anyio.sleep(OUTAGE)
        persistent_redis.start()
        phase["name"] = "after"
        await anyio.sleep(3.0)
        phase["name"] = "done"

    await queue.close()
    assert by_phase["before"] > 30 and by_phase["after"] > 30
    assert refused > 10  # the outage was real and the producer was told, quickly (no pile-up)
    assert sorted(results) == sorted(accepted)  # every accepted job answered, before and after the crash
    assert all(r["status"] == "ok" for r in results.values())
    assert worker.alive()
    log = worker.log
    assert log.count("lost its queue") == 1 and log.count("queue reachable again") == 1


async def test_role_all_keeps_answering_during_the_outage_and_switches_back(
    persistent_redis: RedisServer, namespace: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobclient, "RETRY_PRIMARY_AFTER", 0.5)
    caplog.set_level(logging.INFO)
    load_handlers()
    cfg = _config(persistent_redis.url, namespace)
    queue = RedisQueue(persistent_redis.url, namespace, heartbeat_ttl=1.2)
    fallback = MemoryQueue()
    shared = Worker(queue, cfg, handlers=HANDLERS, worker_id="shared")
    local = Worker(fallback, cfg, handlers=HANDLERS, worker_id="shared-local")
    served_by: list[tuple[str, str]] = []

    async with anyio.create_task_group() as tg:
        tg.start_soon(shared.run)
        tg.start_soon(local.run)
        client = JobClient(queue, cfg, tg, fallback=fallback)

        async def ping(phase: str) -> None:
            with anyio.fail_after(3):  # answered promptly in every phase, outage included
                result = await client.run("ping", {"sent_at": time.time()}, timeout=3)
            assert result["status"] == "ok"
            served_by.append((phase, result["worker_id"]))

        for _ in range(5):
            await ping("before")
        persistent_redis.stop(signal.SIGKILL)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            await ping("outage")
            await anyio.sleep(0.05)
        persistent_redis.start()
        await anyio.sleep(0.6)
        for _ in range(5):
            await ping("after")
            await anyio.sleep(0.05)
        shared.stop()
        local.stop()

    await queue.close()
    assert {w for p, w in served_by if p == "before"} == {"shared"}
    assert {w for p, w in served_by if p == "outage"} == {"shared-local"}
    assert served_by[-1] == ("after", "shared")  # back on Redis once it answers
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.jobclient"]
    assert sum("running jobs on the embedded workers" in m for m in messages) == 1
    assert sum("jobs go back to the shared queue" in m for m in messages) == 1


async def test_gateway_fails_fast_with_a_log_line_while_redis_is_down(
    own_redis: RedisServer, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _config(own_redis.url, namespace)
    queue = RedisQueue(own_redis.url, namespace)
    async with anyio.create_task_group() as tg:
        client = JobClient(queue, cfg, tg)
        await client.enqueue("ping", {})  # connected, pool warm
        own_redis.stop(signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(QueueUnavailable):
            await client.enqueue("ping", {})
        assert time.monotonic() - started < 1.0
    await queue.close()
    assert any("queue unavailable: ping job not queued" in r.getMessage() for r in caplog.records)
