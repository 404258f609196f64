"""Issue 8: a worker killed with SIGKILL mid-flight loses nothing, and nothing is answered twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import orjson
import pytest
import redis

from tests.reliability.procs import RedisServer, WorkerProcess, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

FAST_REAPER = {"heartbeat_interval": 0.3, "heartbeat_ttl": 1.2}


def _tasks(n: int, seconds: float) -> list[bytes]:
    return [
        orjson.dumps(
            {"job_id": f"k-{i}", "job_type": "test_sleep", "payload": {"seconds": seconds, "n": i}, "result_ttl": 120}
        )
        for i in range(n)
    ]


def test_kill_9_with_200_jobs_in_flight_every_result_arrives_exactly_once(
    own_redis: RedisServer, namespace: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    r = redis.Redis.from_url(own_redis.url)
    first = start_worker(own_redis.url, worker_concurrency=200, **FAST_REAPER)
    r.rpush(f"{namespace}:tasks", *_tasks(200, seconds=3.0))
    proc_key = f"{namespace}:processing:*"

    def all_in_flight() -> bool:
        return r.llen(f"{namespace}:tasks") == 0 and sum(r.llen(k) for k in r.scan_iter(match=proc_key)) == 200

    wait_until(all_in_flight, 20, "200 tasks in the first worker's processing list")
    first.signal(signal.SIGKILL)
    first.wait(5)
    assert not list(r.scan_iter(match=f"{namespace}:results:*"))  # killed before answering anything

    second = start_worker(own_redis.url, worker_concurrency=200, **FAST_REAPER)
    keys = [f"{namespace}:results:k-{i}" for i in range(200)]
    wait_until(lambda: r.exists(*keys) == 200, 25, "all 200 results", interval=0.2)
    time.sleep(0.5)  # time for any duplicate answer to land
    assert [r.llen(k) for k in keys] == [1] * 200  # each exactly once
    envelopes = [orjson.loads(r.lpop(k)) for k in keys]
    assert sorted(e["n"] for e in envelopes) == list(range(200))
    assert {e["pid"] for e in envelopes} == {second.proc.pid}
    assert all(e["attempt"] == 2 for e in envelopes)  # the attempt count survived the crash (outside the JSON)
    assert "stopped heartbeating; returned 200 task(s)" in second.log
    assert r.llen(f"{namespace}:dead") == 0 and r.llen(f"{namespace}:tasks") == 0
    r.close()


def test_task_that_kills_every_worker_is_dead_lettered_after_max_attempts(
    own_redis: RedisServer, namespace: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    """A poison task that crashes its worker each time ends in <ns>:dead and its producer gets an answer."""
    r = redis.Redis.from_url(own_redis.url)
    r.rpush(f"{namespace}:tasks", *_tasks(1, seconds=30.0))
    for _ in range(3):  # max_attempts = 3 deliveries, each ending in SIGKILL
        w = start_worker(own_redis.url, **FAST_REAPER)
        mine = f"{namespace}:processing:*-{w.proc.pid}-*"
        wait_until(lambda m=mine: any(r.llen(k) for k in r.scan_iter(match=m)), 20, "this worker to take the task")
        w.signal(signal.SIGKILL)
        w.wait(5)
    start_worker(own_redis.url, **FAST_REAPER)
    _, body = r.blpop([f"{namespace}:results:k-0"], timeout=15)
    assert orjson.loads(body) == {"status": "error", "error": "gave up after 3 attempt(s) (worker died each time)"}
    (dead,) = [orjson.loads(e) for e in r.lrange(f"{namespace}:dead", 0, -1)]
    assert dead["job_id"] == "k-0" and dead["attempts"] == 4
    r.close()
