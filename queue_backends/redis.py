"""The Redis backend: the wire contract, exactly, plus (in reliable mode) at-least-once delivery around it.

Contract keys (what any plain client sees and uses):
    <ns>:tasks              list; producers RPUSH task JSON, consumers take from the left
    <ns>:results:<job_id>   list; the worker RPUSHes the result envelope, EXPIRE result_ttl

Steward's own keys (a plain client never needs them):
    <ns>:processing:<wid>   tasks worker <wid> has taken and not yet answered (reliable mode)
    <ns>:worker:<wid>       heartbeat, expires after heartbeat_ttl; its absence means the worker is dead
    <ns>:workers            sorted set worker id -> last heartbeat time (for the reaper and `bot queue stats`)
    <ns>:attempts           hash job_id -> deliveries so far (counted outside the task JSON)
    <ns>:done:<job_id>      marker set when a result is published, so a job that ran twice answers once
    <ns>:stream:<job_id>    list of partial-output chunks of a streaming job (EXPIRE result_ttl)
    <ns>:dead               list of dead-lettered tasks with their reason
    <ns>:reaper             short-lived lock: one worker at a time returns dead workers' tasks to the queue
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.jobs import DEFAULT_RESULT_TTL, JobTimeout, Task, decode_result, encode_result, peek_job_id
from queue_backends.base import Delivery, QueueStats, QueueUnavailable
from queue_backends.redis_batch import CommandBatcher

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
BLOCK_SLICE = 5.0  # longest single blocking call; socket timeouts sit above it so a dead link is noticed

# Move up to ARGV[1] tasks into the worker's processing list and count each one's attempt, in one round trip.
# ARGV[2], when not empty, is the job_id of a task a BLMOVE just moved: its attempt is counted here too and comes
# first in the reply (0 when ARGV[2] is empty), so a blocking take costs the BLMOVE and this one call.
_TAKE = """
local out = {0}
if ARGV[2] ~= '' then out[1] = redis.call('HINCRBY', KEYS[3], ARGV[2], 1) end
for i = 1, tonumber(ARGV[1]) do
  local raw = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not raw then break end
  local attempt = 1
  local ok, task = pcall(cjson.decode, raw)
  if ok and type(task) == 'table' and type(task['job_id']) == 'string' then
    attempt = redis.call('HINCRBY', KEYS[3], task['job_id'], 1)
  end
  out[#out + 1] = raw
  out[#out + 1] = attempt
end
return out
"""

# Acknowledge and publish in one step; the done marker makes a second run's publish a no-op.
_PUBLISH = """
redis.call('LREM', KEYS[3], 1, ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[4])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Plain mode's publication: RPUSH + EXPIRE atomically, as one command that can share a pipeline.
_PUBLISH_PLAIN = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_DEAD = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 1, ARGV[2])
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1
"""

# Return a worker's unanswered tasks to the HEAD of the queue in their original order, unless it is alive.
_REAP = """
if ARGV[2] == 'check' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while true do
  local raw = redis.call('LMOVE', KEYS[2], KEYS[3], 'RIGHT', 'LEFT')
  if not raw then break end
  n = n + 1
end
redis.call('ZREM', KEYS[4], ARGV[1])
return n
"""


# Give back tasks a dropped take moved into our processing list without us seeing them; ARGV in original order.
_ORPHANS = """
local n = 0
for i = #ARGV, 1, -1 do
  if redis.call('LREM', KEYS[1], -1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
"""


def make_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class RedisQueue:
    name = "redis"

    def __init__(
        self,
        url: str,
        namespace: str = "steward",
        *,
        reliable: bool = True,
        default_result_ttl: int = DEFAULT_RESULT_TTL,
        heartbeat_ttl: float = 15.0,
        max_connections: int = 256,
    ) -> None:
        self.ns = namespace
        self.reliable = reliable
        self.default_result_ttl = default_result_ttl
        self.heartbeat_ttl = heartbeat_ttl
        opts: dict[str, Any] = {
            "socket_connect_timeout": 3,
            "socket_timeout": BLOCK_SLICE + 5,
            "health_check_interval": 15,
            "max_connections": max_connections,
        }
        # Commands and blocking pops use separate pools so a long BLPOP never holds up an RPUSH.
        # redis-py's default retries (10, up to 1 s apart) would make every call take ~4 s to fail while Redis
        # is down, so a gateway could not fail fast; two quick retries ride over a stale pooled connection.
        self.redis = aioredis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 2), **opts)
        # Takes run here with no automatic retry: retrying a take whose reply was lost would move more tasks
        # into our processing list behind our back. The worker recovers such orphans itself (recover_orphans).
        self._blocking = aioredis.from_url(url, retry=Retry(NoBackoff(), 0), **opts)
        self.tasks_key = f"{namespace}:tasks"
        self.dead_key = f"{namespace}:dead"
        self.attempts_key = f"{namespace}:attempts"
        self.workers_key = f"{namespace}:workers"
        self._take = self.redis.register_script(_TAKE)
        self._publish = self.redis.register_script(_PUBLISH)
        self._dead = self.redis.register_script(_DEAD)
        self._reap = self.redis.register_script(_REAP)
        self._orphans = self.redis.register_script(_ORPHANS)
        self._publish_plain = self.redis.register_script(_PUBLISH_PLAIN)
        # Results of jobs finishing together go out in one pipeline (see redis_batch.py).
        self._batch = CommandBatcher(self.redis)
        # Worker ids whose last take emptied the queue: their next take blocks at once instead of first asking
        # (and being told "empty") without blocking, which cost a round trip per job at low load.
        self._drained: set[str] = set()

    def results_key(self, job_id: str) -> str:
        return f"{self.ns}:results:{job_id}"

    def processing_key(self, worker_id: str) -> str:
        return f"{self.ns}:processing:{worker_id}"

    def heartbeat_key(self, worker_id: str) -> str:
        return f"{self.ns}:worker:{worker_id}"

    # --- producers ---
    async def enqueue(
        self,
        job_type: str,
        payload: dict[str, Any],
        requested_by: str | None = None,
        result_ttl: int | None = None,
        *,
        job_id: str | None = None,
    ) -> Task:
        task = Task(
            job_type=job_type,
            payload=payload,
            requested_by=requested_by,
            result_ttl=result_ttl or self.default_result_ttl,
        )
        if job_id:
            task.job_id = job_id
        try:
            await self.redis.rpush(self.tasks_key, task.to_json())
        except REDIS_DOWN as exc:
            raise QueueUnavailable(f"Redis is unreachable: {type(exc).__name__}") from exc
        return task

    async def wait_for_result(self, job_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        key = self.results_key(job_id)
        backoff = 0.1
        while (remaining := deadline - time.monotonic()) > 0:
            # BLPOP takes whole seconds on old servers; float timeouts work on Redis >= 6.
            try:
                item = await self._blocking.blpop([key], timeout=max(0.01, min(BLOCK_SLICE, remaining)))
            except REDIS_DOWN:
                # Keep waiting through a Redis restart: the worker publishes once it is back.
                await _sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2, 2.0)
                continue
            if item is not None:
                return decode_result(item[1])
        raise JobTimeout(job_id, "?", timeout)

    async def read_stream(self, job_id: str, start: int = 0) -> list[str]:
        chunks = await self.redis.lrange(f"{self.ns}:stream:{job_id}", start, -1)
        return [c.decode() for c in chunks]

    # --- workers ---
    async def take(self, worker_id: str, max_tasks: int, timeout: float) -> list[Delivery]:
        if self.reliable:
            out = await self._take_reliable(worker_id, max_tasks, timeout)
        else:
            out = await self._take_plain(max_tasks, timeout)
        if len(out) < max_tasks:
            self._drained.add(worker_id)
        else:
            self._drained.discard(worker_id)
        return out

    async def _take_plain(self, max_tasks: int, timeout: float) -> list[Delivery]:
        # No "drained" shortcut here: the empty LPOP overlaps the producer's turnaround, and pipelining an LPOP
        # behind the BLPOP measured slower at one job in flight (docs/benchmarks.md).
        raws = await self.redis.lpop(self.tasks_key, max_tasks)
        if not raws:
            item = await self._blocking.blpop([self.tasks_key], timeout=min(timeout, BLOCK_SLICE))
            if item is None:
                return []
            raws = [item[1]]
        return [Delivery.from_raw(raw) for raw in raws]

    async def _take_reliable(self, worker_id: str, max_tasks: int, timeout: float) -> list[Delivery]:
        proc = self.processing_key(worker_id)
        keys = [self.tasks_key, proc, self.attempts_key]
        if worker_id not in self._drained:
            flat = await self._take(keys=keys, args=[max_tasks, ""], client=self._blocking)
            if len(flat) > 1:
                return _deliveries(flat[1:])
        raw = await self._blocking.blmove(self.tasks_key, proc, min(timeout, BLOCK_SLICE), "LEFT", "RIGHT")
        if raw is None:
            return []
        first = Delivery.from_raw(raw)
        job_id = first.task.job_id if first.task is not None else ""
        flat = await self._take(keys=keys, args=[max_tasks - 1, job_id], client=self._blocking)
        if first.task is not None:
            first.attempt = int(flat[0])
        return [first, *_deliveries(flat[1:])]

    async def recover_orphans(self, worker_id: str, serving: Mapping[bytes, int]) -> int:
        """Return to the queue's head every task in our processing list that we are not serving."""
        if not self.reliable:
            return 0
        held = await self.redis.lrange(self.processing_key(worker_id), 0, -1)
        budget = dict(serving)
        orphans = []
        for raw in held:
            if budget.get(raw, 0) > 0:
                budget[raw] -= 1
            else:
                orphans.append(raw)
        if not orphans:
            return 0
        return int(await self._orphans(keys=[self.processing_key(worker_id), self.tasks_key], args=orphans))

    async def publish_result(self, worker_id: str, delivery: Delivery, envelope: dict[str, Any]) -> bool:
        assert delivery.task is not None
        task = delivery.task
        body = encode_result(envelope)
        if not self.reliable:
            await self._batched(self._publish_plain, [self.results_key(task.job_id)], [body, task.result_ttl])
            return True
        published = await self._batched(
            self._publish,
            [
                self.results_key(task.job_id),
                f"{self.ns}:done:{task.job_id}",
                self.processing_key(worker_id),
                self.attempts_key,
            ],
            [body, task.result_ttl, delivery.raw, task.job_id],
        )
        return bool(published)

    async def _batched(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA through the batcher; load the script once if Redis lost it (a restart empties its cache)."""
        try:
            return await self._batch.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.redis.script_load(script.script)
            return await self._batch.call("EVALSHA", script.sha, len(keys), *keys, *args)

    async def append_stream(self, job_id: str, chunk: str, ttl: int) -> None:
        key = f"{self.ns}:stream:{job_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, chunk)
            pipe.expire(key, ttl)
            await pipe.execute()

    async def dead_letter(self, worker_id: str, delivery: Delivery, reason: str) -> None:
        task = delivery.task
        # A malformed task may still carry a readable job_id: keep it, so `bot queue dead requeue ID` finds it
        # and its attempt counter (taken by job_id) is cleared rather than left behind.
        job_id = task.job_id if task else peek_job_id(delivery.raw)
        entry = orjson.dumps(
            {
                "job_id": job_id,
                "job_type": task.job_type if task else None,
                "reason": reason,
                "task": delivery.raw.decode("utf-8", "replace"),
                "worker": worker_id,
                "attempts": delivery.attempt,
                "failed_at": time.time(),
            }
        )
        await self._dead(
            keys=[self.dead_key, self.processing_key(worker_id), self.attempts_key],
            args=[entry, delivery.raw, job_id or ""],
        )

    async def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                self.heartbeat_key(worker_id),
                orjson.dumps({**info, "last_seen": now}),
                px=int(self.heartbeat_ttl * 1000),
            )
            pipe.zadd(self.workers_key, {worker_id: now})
            await pipe.execute()
        if self.reliable:
            await self.reap(worker_id)

    async def reap(self, worker_id: str) -> int:
        """Return the tasks of workers whose heartbeat lapsed to the head of the queue (one reaper at a time)."""
        got_lock = await self.redis.set(f"{self.ns}:reaper", worker_id, nx=True, px=int(self.heartbeat_ttl * 1000))
        if not got_lock:
            return 0
        returned = 0
        for other in await self.redis.zrange(self.workers_key, 0, -1):
            other_id = other.decode()
            if other_id == worker_id:
                continue
            n = await self._reap(
                keys=[
                    self.heartbeat_key(other_id),
                    self.processing_key(other_id),
                    self.tasks_key,
                    self.workers_key,
                ],
                args=[other_id, "check"],
            )
            if n > 0:
                log.warning("worker %s stopped heartbeating; returned %d task(s) to the queue", other_id, n)
                returned += n
        return returned

    async def release(self, worker_id: str) -> int:
        await self.redis.delete(self.heartbeat_key(worker_id))
        if not self.reliable:
            await self.redis.zrem(self.workers_key, worker_id)
            return 0
        return int(
            await self._reap(
                keys=[
                    self.heartbeat_key(worker_id),
                    self.processing_key(worker_id),
                    self.tasks_key,
                    self.workers_key,
                ],
                args=[worker_id, "force"],
            )
        )

    # --- operators ---
    async def stats(self) -> QueueStats:
        ids = [w.decode() for w in await self.redis.zrange(self.workers_key, 0, -1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.tasks_key)
            pipe.llen(self.dead_key)
            for wid in ids:
                pipe.llen(self.processing_key(wid))
                pipe.get(self.heartbeat_key(wid))
            res = await pipe.execute()
        workers: dict[str, dict[str, Any]] = {}
        processing = 0
        for i, wid in enumerate(ids):
            processing += res[2 + 2 * i]
            beat = res[3 + 2 * i]
            workers[wid] = {**orjson.loads(beat), "alive": True} if beat else {"alive": False}
        return QueueStats(tasks=res[0], processing=processing, dead=res[1], workers=workers)

    async def dead_list(self, start: int = 0, count: int = 50) -> list[dict[str, Any]]:
        return [orjson.loads(e) for e in await self.redis.lrange(self.dead_key, start, start + count - 1)]

    async def dead_requeue(self, job_id: str | None = None) -> int:
        moved = 0
        for raw_entry in await self.redis.lrange(self.dead_key, 0, -1):
            entry = orjson.loads(raw_entry)
            if job_id is not None and entry.get("job_id") != job_id:
                continue
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrem(self.dead_key, 1, raw_entry)
                pipe.rpush(self.tasks_key, entry["task"])
                if entry.get("job_id"):
                    pipe.hdel(self.attempts_key, entry["job_id"])
                    pipe.delete(f"{self.ns}:done:{entry['job_id']}")
                await pipe.execute()
            moved += 1
        return moved

    async def dead_purge(self) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(self.dead_key)
            pipe.delete(self.dead_key)
            n, _ = await pipe.execute()
        return int(n)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except REDIS_DOWN:
            return False

    async def close(self) -> None:
        await self.redis.aclose()
        await self._blocking.aclose()


def _deliveries(flat: list[Any]) -> list[Delivery]:
    return [Delivery.from_raw(flat[i], attempt=int(flat[i + 1])) for i in range(0, len(flat), 2)]


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)
