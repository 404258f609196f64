"""Issue 2 against real processes: a plain client of the wire contract and `bot run --role=worker`."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import orjson
import pytest
import redis

from queue_backends.redis import RedisQueue
from tests.reliability.procs import WorkerProcess, wait_until

pytestmark = pytest.mark.redis


def _task(job_id: str, job_type: str, payload: dict | None = None, ttl: int = 120) -> bytes:
    return orjson.dumps(
        {"job_id": job_id, "job_type": job_type, "payload": payload or {}, "requested_by": "42", "result_ttl": ttl}
    )


def _result(raw: redis.Redis, ns: str, job_id: str, timeout: float = 20) -> dict:
    item = raw.blpop([f"{ns}:results:{job_id}"], timeout=timeout)
    assert item is not None, f"no result for {job_id} within {timeout}s"
    return orjson.loads(item[1])


def test_plain_contract_client_against_a_worker_process(
    raw: redis.Redis, namespace: str, shared_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(shared_url)
    raw.rpush(f"{namespace}:tasks", _task("c-ping", "ping", {"sent_at": 1.5}, ttl=77))
    results_key = f"{namespace}:results:c-ping"
    # The result is a list with the task's result_ttl as its expiry: look before taking it.
    wait_until(lambda: raw.exists(results_key), 20, "the ping result")
    assert raw.type(results_key) == b"list"
    assert 70 <= raw.ttl(results_key) <= 77
    envelope = _result(raw, namespace, "c-ping")
    assert envelope["status"] == "ok" and envelope["sent_at"] == 1.5 and envelope["attempt"] == 1
    assert envelope["pid"] == worker.proc.pid

    raw.rpush(f"{namespace}:tasks", _task("c-unknown", "no_such_job"))
    assert _result(raw, namespace, "c-unknown") == {"status": "error", "error": "unknown job_type 'no_such_job'"}
    assert raw.llen(f"{namespace}:dead") == 0  # an unknown type is answered, not dead-lettered

    # FIFO: a batch pushed at once is served and answered, each on its own key.
    raw.rpush(f"{namespace}:tasks", *[_task(f"c-{i}", "test_echo", {"i": i}) for i in range(20)])
    assert [_result(raw, namespace, f"c-{i}")["echo"]["i"] for i in range(20)] == list(range(20))


@pytest.mark.anyio
async def test_plain_blpop_consumer_takes_our_tasks(raw: redis.Redis, namespace: str, shared_url: str) -> None:
    for reliable in (True, False):  # the producer side is the same contract in both modes
        q = RedisQueue(shared_url, namespace, reliable=reliable, default_result_ttl=99)
        try:
            sent = [await q.enqueue("test_echo", {"n": i, "text": "é✓"}, requested_by="u1") for i in range(3)]
        finally:
            await q.close()
        for t in sent:
            _, body = raw.blpop([f"{namespace}:tasks"], timeout=5)
            assert orjson.loads(body) == {
                "job_id": t.job_id,
                "job_type": "test_echo",
                "payload": t.payload,
                "requested_by": "u1",
                "result_ttl": 99,
            }
        assert raw.llen(f"{namespace}:tasks") == 0


def test_malformed_tasks_are_dead_lettered_and_the_next_good_one_served(
    raw: redis.Redis, namespace: str, shared_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    bad = [b"{not json", b'"a string"', b'{"job_type":"ping"}', b'{"job_id":"m1","job_type":"ping","payload":[1]}']
    raw.rpush(f"{namespace}:tasks", *bad, _task("good-1", "test_echo", {"ok": 1}))
    worker = start_worker(shared_url, worker_concurrency=1)  # one at a time: the good task waits behind the bad
    assert _result(raw, namespace, "good-1") == {"status": "ok", "echo": {"ok": 1}}
    assert _result(raw, namespace, "m1")["error"].startswith("malformed task: payload must be a JSON object")
    dead = [orjson.loads(e) for e in raw.lrange(f"{namespace}:dead", 0, -1)]
    assert [d["task"].encode() for d in dead] == bad
    assert all(d["reason"].startswith("malformed task: ") for d in dead)
    assert worker.alive()
    assert raw.llen(f"{namespace}:tasks") == 0


def test_sigterm_drains_in_flight_work_and_exits_0(
    raw: redis.Redis, namespace: str, shared_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(shared_url, worker_concurrency=8)
    raw.rpush(f"{namespace}:tasks", *[_task(f"s-{i}", "test_sleep", {"seconds": 1.5, "n": i}) for i in range(5)])
    # All five taken and running (in the worker's processing list), none answered yet.
    wait_until(lambda: raw.llen(f"{namespace}:tasks") == 0, 20, "the worker to take the tasks")
    time.sleep(0.2)
    assert not any(raw.exists(f"{namespace}:results:s-{i}") for i in range(5))  # still running
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    for i in range(5):
        assert _result(raw, namespace, f"s-{i}", timeout=1)["n"] == i  # answered before the process exited
    assert raw.llen(f"{namespace}:tasks") == 0
    assert not list(raw.scan_iter(match=f"{namespace}:processing:*"))
    assert "received SIGTERM" in worker.log
