"""One conformance suite for every QueueBackend: memory, redis (plain) and redis (reliable)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import orjson
import pytest

from bot.config import Config
from bot.jobs import JobTimeout
from bot.worker import HANDLERS, JobContext, JobError, RetryableJobError, Worker, job, load_handlers
from queue_backends.base import QueueBackend
from queue_backends.memory import MemoryQueue
from queue_backends.redis import RedisQueue
from tests.services import require_redis

pytestmark = pytest.mark.anyio


@job("test_echo")
async def _echo(payload: dict, ctx: JobContext) -> dict:
    return {"echo": payload, "attempt": ctx.attempt}


@job("test_fail")
async def _fail(payload: dict, ctx: JobContext) -> dict:
    raise JobError("nope")


@job("test_crash")
async def _crash(payload: dict, ctx: JobContext) -> dict:
    raise KeyError("secret-internal-detail")


_flaky_calls: dict[str, int] = {}


@job("test_flaky")
async def _flaky(payload: dict, ctx: JobContext) -> dict:
    _flaky_calls[ctx.job_id] = _flaky_calls.get(ctx.job_id, 0) + 1
    if ctx.attempt < payload["succeed_on"]:
        raise RetryableJobError("provider overloaded")
    return {"attempt": ctx.attempt}


@job("test_slow", run_limit=0.3)
async def _slow(payload: dict, ctx: JobContext) -> dict:
    await anyio.sleep(payload.get("seconds", 5))
    return {}


@job("test_stream")
async def _stream(payload: dict, ctx: JobContext) -> dict:
    for word in payload["words"]:
        await ctx.stream(word)
    return {"reply": "".join(payload["words"])}


@pytest.fixture(params=["memory", "redis-plain", "redis-reliable"])
async def backend(request: pytest.FixtureRequest, namespace: str, redis_client) -> AsyncIterator[QueueBackend]:
    if request.param == "memory":
        q: QueueBackend = MemoryQueue()
    else:
        q = RedisQueue(require_redis(), namespace, reliable=request.param == "redis-reliable", heartbeat_ttl=2.0)
    yield q
    await q.close()


def _config() -> Config:
    cfg = Config()
    cfg.queue.shutdown_grace = 2.0
    cfg.queue.heartbeat_interval = 0.5
    cfg.queue.heartbeat_ttl = 2.0
    return cfg


async def _with_worker(backend: QueueBackend, body, **kwargs) -> None:
    load_handlers()
    worker = Worker(backend, _config(), handlers=HANDLERS, **kwargs)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        try:
            await body(worker)
        finally:
            worker.stop()


async def test_fifo_order_and_payload_round_trip(backend: QueueBackend) -> None:
    tasks = [await backend.enqueue("test_echo", {"n": i, "nested": {"a": [1, 2]}}) for i in range(5)]
    got = await backend.take("w1", 10, timeout=1.0)
    assert [d.task.payload["n"] for d in got] == [0, 1, 2, 3, 4]
    assert [d.task.job_id for d in got] == [t.job_id for t in tasks]
    assert all(d.attempt == 1 for d in got)
    for d in got:
        await backend.publish_result("w1", d, {"status": "ok", "n": d.task.payload["n"]})
    assert (await backend.wait_for_result(tasks[3].job_id, 1.0)) == {"status": "ok", "n": 3}


async def test_payload_is_copied_not_shared(backend: QueueBackend) -> None:
    payload = {"items": [1]}
    await backend.enqueue("test_echo", payload)
    payload["items"].append(2)  # mutating after enqueue must not change the task
    (d,) = await backend.take("w1", 1, timeout=1.0)
    assert d.task.payload == {"items": [1]}


async def test_take_times_out_when_empty(backend: QueueBackend) -> None:
    with anyio.fail_after(3):
        assert await backend.take("w1", 1, timeout=0.2) == []


async def test_wait_for_result_times_out(backend: QueueBackend) -> None:
    with pytest.raises(JobTimeout):
        await backend.wait_for_result("no-such-job", 0.2)


async def test_worker_serves_ok_error_unknown_and_crash(backend: QueueBackend) -> None:
    async def body(worker: Worker) -> None:
        ok = await backend.enqueue("test_echo", {"x": 1}, requested_by="u1")
        fail = await backend.enqueue("test_fail", {})
        unknown = await backend.enqueue("no_such_job", {})
        crash = await backend.enqueue("test_crash", {})
        assert await backend.wait_for_result(ok.job_id, 5) == {"status": "ok", "echo": {"x": 1}, "attempt": 1}
        assert await backend.wait_for_result(fail.job_id, 5) == {"status": "error", "error": "nope"}
        assert await backend.wait_for_result(unknown.job_id, 5) == {
            "status": "error",
            "error": "unknown job_type 'no_such_job'",
        }
        crashed = await backend.wait_for_result(crash.job_id, 5)
        assert crashed == {"status": "error", "error": "job failed: KeyError"}  # no internal detail leaks

    await _with_worker(backend, body)


async def test_malformed_tasks_are_dead_lettered_and_the_next_good_task_served(backend: QueueBackend) -> None:
    bad = [b"not json", b"[1,2]", b'{"job_type":"test_echo"}', b'{"job_id":"j1","job_type":"test_echo","payload":3}']
    for raw in bad:
        await _push_raw(backend, raw)
    good = await backend.enqueue("test_echo", {"ok": True})

    async def body(worker: Worker) -> None:
        assert (await backend.wait_for_result(good.job_id, 5))["status"] == "ok"
        # j1 carried a job_id: its producer is answered instead of left waiting.
        answer = await backend.wait_for_result("j1", 5)
        assert answer["status"] == "error" and "payload must be a JSON object" in answer["error"]

    await _with_worker(backend, body)
    dead = await backend.dead_list(0, 100)
    assert sorted(d["task"] for d in dead) == sorted(raw.decode() for raw in bad)  # served concurrently
    assert all(d["reason"].startswith("malformed task:") for d in dead)


async def test_retryable_failure_is_retried_then_succeeds(backend: QueueBackend) -> None:
    async def body(worker: Worker) -> None:
        t = await backend.enqueue("test_flaky", {"succeed_on": 2})
        assert await backend.wait_for_result(t.job_id, 10) == {"status": "ok", "attempt": 2}

    await _with_worker(backend, body)


async def test_retries_exhausted_dead_letters_and_answers(backend: QueueBackend) -> None:
    async def body(worker: Worker) -> None:
        t = await backend.enqueue("test_flaky", {"succeed_on": 99})
        result = await backend.wait_for_result(t.job_id, 15)
        assert result["status"] == "error" and "failed after 3 attempt(s)" in result["error"]
        assert _flaky_calls[t.job_id] == 3
        dead = await backend.dead_list()
        assert [d["job_id"] for d in dead] == [t.job_id]

    await _with_worker(backend, body)


async def test_run_limit_ends_with_error_envelope(backend: QueueBackend) -> None:
    async def body(worker: Worker) -> None:
        t = await backend.enqueue("test_slow", {"seconds": 5})
        result = await backend.wait_for_result(t.job_id, 5)
        assert result == {"status": "error", "error": "job timed out after 0.3s"}

    await _with_worker(backend, body)


async def test_streamed_chunks_and_final_result(backend: QueueBackend) -> None:
    async def body(worker: Worker) -> None:
        t = await backend.enqueue("test_stream", {"words": ["Hel", "lo", "!"]})
        assert await backend.wait_for_result(t.job_id, 5) == {"status": "ok", "reply": "Hello!"}
        assert await backend.read_stream(t.job_id) == ["Hel", "lo", "!"]
        assert await backend.read_stream(t.job_id, 2) == ["!"]

    await _with_worker(backend, body)


# Plain Redis mode is at-most-once (a task is never delivered twice) and keeps no processing list: these two
# properties belong to the at-least-once backends only.
AT_LEAST_ONCE = pytest.mark.parametrize("backend", ["memory", "redis-reliable"], indirect=True)


@AT_LEAST_ONCE
async def test_a_job_that_ran_twice_answers_once(backend: QueueBackend) -> None:
    t = await backend.enqueue("test_echo", {})
    (d,) = await backend.take("w1", 1, timeout=1)
    assert await backend.publish_result("w1", d, {"status": "ok", "run": 1}) is True
    assert await backend.publish_result("w2", d, {"status": "ok", "run": 2}) is False
    assert await backend.wait_for_result(t.job_id, 1) == {"status": "ok", "run": 1}
    with pytest.raises(JobTimeout):
        await backend.wait_for_result(t.job_id, 0.2)


@AT_LEAST_ONCE
async def test_release_returns_unfinished_tasks_to_the_head(backend: QueueBackend) -> None:
    first = await backend.enqueue("test_echo", {"n": 1})
    await backend.enqueue("test_echo", {"n": 2})
    (d,) = await backend.take("w1", 1, timeout=1)
    assert d.task.job_id == first.job_id
    assert await backend.release("w1") == 1
    again = await backend.take("w2", 2, timeout=1)
    assert [x.task.payload["n"] for x in again] == [1, 2]


async def test_dead_requeue_and_purge(backend: QueueBackend) -> None:
    await _push_raw(backend, b"garbage")
    t = await backend.enqueue("test_echo", {})
    got = await backend.take("w1", 2, timeout=1)
    await backend.dead_letter("w1", got[0], "malformed")
    await backend.dead_letter("w1", got[1], "operator says so")
    assert (await backend.stats()).dead == 2
    assert await backend.dead_requeue(t.job_id) == 1
    (d,) = await backend.take("w1", 1, timeout=1)
    assert d.task.job_id == t.job_id
    assert await backend.dead_purge() == 1
    assert (await backend.stats()).dead == 0


async def test_sigterm_style_stop_drains_in_flight_work(backend: QueueBackend) -> None:
    load_handlers()
    cfg = _config()
    worker = Worker(backend, cfg, handlers=HANDLERS, concurrency=4)
    slow = [await backend.enqueue("test_stream", {"words": ["a"]}) for _ in range(3)]

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await backend.wait_for_result(slow[0].job_id, 5)
        worker.stop()
    for t in slow[1:]:
        assert (await backend.wait_for_result(t.job_id, 2))["status"] == "ok"


async def _push_raw(backend: QueueBackend, raw: bytes) -> None:
    if isinstance(backend, MemoryQueue):
        backend.push_raw(raw)
    else:
        await backend.redis.rpush(backend.tasks_key, raw)


def test_task_json_is_the_exact_contract() -> None:
    from bot.jobs import Task

    t = Task("ping", {"a": 1}, job_id="abc", requested_by="42", result_ttl=60)
    assert orjson.loads(t.to_json()) == {
        "job_id": "abc",
        "job_type": "ping",
        "payload": {"a": 1},
        "requested_by": "42",
        "result_ttl": 60,
    }
