"""Issue 8: 10,000 malformed or hostile tasks with good ones in between; the worker stays up and loses nothing."""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson
import pytest
import redis

from bot.jobs import MAX_TASK_BYTES
from tests.reliability.procs import WorkerProcess, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

N_BAD = 10_000
GOOD_EVERY = 100


def _hostile(i: int, rng: random.Random) -> tuple[bytes, str]:
    """One hostile task and what should happen to it: 'dead' or 'answered' (unknown job types get an envelope)."""
    jid = f"h-{i}"
    kind = i % 16
    if kind == 0:
        return rng.randbytes(rng.randint(1, 64)), "dead"  # binary garbage, often invalid UTF-8
    if kind == 1:
        return b'{"job_id": "x", "job_type": "ping", ', "dead"  # truncated JSON
    if kind == 2:
        return rng.choice([b"null", b"42", b'"ping"', b"[]", b"true", b""]), "dead"
    if kind == 3:
        return orjson.dumps({"job_type": "ping", "payload": {}}), "dead"  # no job_id
    if kind == 4:
        return orjson.dumps({"job_id": jid, "payload": {}}), "dead"  # no job_type
    if kind == 5:
        return orjson.dumps({"job_id": i, "job_type": "ping"}), "dead"  # job_id not a string
    if kind == 6:
        return orjson.dumps({"job_id": jid, "job_type": ["ping"]}), "dead"
    if kind == 7:
        return orjson.dumps({"job_id": jid, "job_type": "ping", "payload": "text"}), "dead"
    if kind == 8:
        return orjson.dumps({"job_id": jid, "job_type": "ping", "result_ttl": rng.choice([-1, 0, "60", True])}), "dead"
    if kind == 9:
        return orjson.dumps({"job_id": jid, "job_type": "ping", "requested_by": {"$ne": 1}}), "dead"
    if kind == 10:
        depth = rng.choice([2_000, 20_000])  # deeper than any JSON parser here accepts
        return (
            b'{"job_id":"%s","job_type":"ping","payload":{"a":' % jid.encode() + b"[" * depth + b"]" * depth + b"}}",
            "dead",
        )
    if kind == 11:
        return orjson.dumps({"job_id": "x" * 10_000, "job_type": "ping"}), "dead"
    if kind == 12:
        return orjson.dumps({"job_id": jid, "job_type": "p" * 5_000}), "dead"
    if kind == 13 and i % 1000 == 13:  # a handful of oversized tasks (each ~1 MB in Redis)
        return orjson.dumps({"job_id": jid, "job_type": "ping", "payload": {"blob": "A" * MAX_TASK_BYTES}}), "dead"
    if kind == 14:
        return orjson.dumps({"job_id": jid, "job_type": rng.choice(["__import__", "os.system", "ping\x00", "🤖"])}), (
            "answered"
        )
    return orjson.dumps({"job_id": jid, "job_type": f"no_such_{i}", "payload": {"x": i}}), "answered"


def test_ten_thousand_hostile_tasks_with_good_ones_between(
    raw: redis.Redis, namespace: str, shared_url: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    rng = random.Random(8)
    bad, expected_dead, answered_ids, good_ids = [], 0, [], []
    stream: list[bytes] = []
    for i in range(N_BAD):
        body, fate = _hostile(i, rng)
        stream.append(body)
        bad.append(body)
        if fate == "dead":
            expected_dead += 1
        else:
            answered_ids.append(orjson.loads(body)["job_id"])
        if i % GOOD_EVERY == 0:
            good_ids.append(f"g-{i}")
            stream.append(orjson.dumps({"job_id": f"g-{i}", "job_type": "test_echo", "payload": {"i": i}}))
    pipe = raw.pipeline(transaction=False)
    for start in range(0, len(stream), 500):
        pipe.rpush(f"{namespace}:tasks", *stream[start : start + 500])
    pipe.execute()

    worker = start_worker(shared_url, worker_concurrency=16)
    wait_until(lambda: raw.llen(f"{namespace}:dead") >= expected_dead, 60, "every bad task dead-lettered", 0.2)
    for gid in good_ids:  # every good task in between was served
        _, body = raw.blpop([f"{namespace}:results:{gid}"], timeout=10)
        assert orjson.loads(body) == {"status": "ok", "echo": {"i": int(gid[2:])}}
    for jid in answered_ids:  # unknown types: an error envelope per the contract, not a dead letter
        _, body = raw.blpop([f"{namespace}:results:{jid}"], timeout=10)
        assert orjson.loads(body)["error"].startswith("unknown job_type '")
    assert raw.llen(f"{namespace}:dead") == expected_dead
    dead = [orjson.loads(e) for e in raw.lrange(f"{namespace}:dead", 0, -1)]
    assert all(d["reason"].startswith("malformed task: ") and d["task"] is not None for d in dead)
    assert raw.llen(f"{namespace}:tasks") == 0
    assert sum(raw.llen(k) for k in raw.scan_iter(match=f"{namespace}:processing:*")) == 0
    assert worker.alive()
    assert "Traceback" not in worker.log
