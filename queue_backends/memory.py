"""In-process queue for `bot run --role=all` on one box without Redis.

Same semantics as the Redis backend: FIFO, payloads round-trip through JSON (nothing passes by reference), results
expire after their ttl, waits time out, malformed tasks are dead-lettered. It lives and dies with the process, so
it needs no processing lists or heartbeats.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from typing import Any

import orjson

from bot.jobs import DEFAULT_RESULT_TTL, JobTimeout, Task, encode_result, peek_job_id
from queue_backends.base import Delivery, QueueStats


class MemoryQueue:
    name = "memory"

    def __init__(self, default_result_ttl: int = DEFAULT_RESULT_TTL, max_dead: int = 10_000) -> None:
        self._tasks: deque[bytes] = deque()
        self._not_empty = asyncio.Event()
        self._results: dict[str, tuple[bytes, float]] = {}  # job_id -> (envelope json, expires at)
        self._result_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._streams: dict[str, tuple[list[str], float]] = {}
        self._done: dict[str, float] = {}  # job ids already answered -> expiry, so a rerun answers once
        self._in_flight: dict[str, list[bytes]] = {}
        self._dead: deque[dict[str, Any]] = deque(maxlen=max_dead)
        self._workers: dict[str, dict[str, Any]] = {}
        self._default_ttl = default_result_ttl
        self._job_types: dict[str, str] = {}
        self._expiry: list[tuple[float, str]] = []  # heap: when each answered job's traces may be forgotten

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
            result_ttl=result_ttl or self._default_ttl,
        )
        if job_id:
            task.job_id = job_id
        self.push_raw(task.to_json())
        return task

    def push_raw(self, raw: bytes) -> None:
        """Queue raw bytes as a plain producer would (tests use it for malformed tasks)."""
        self._tasks.append(raw)
        self._not_empty.set()

    async def wait_for_result(self, job_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self._pop_result(job_id)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobTimeout(job_id, self._job_types.get(job_id, "?"), timeout)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._result_waiters.setdefault(job_id, []).append(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                pass
            finally:
                waiters = self._result_waiters.get(job_id)
                if waiters and fut in waiters:
                    waiters.remove(fut)
                    if not waiters:
                        del self._result_waiters[job_id]

    def _pop_result(self, job_id: str) -> dict[str, Any] | None:
        # Like BLPOP on the results list: the first reader takes the result.
        item = self._results.pop(job_id, None)
        if item is None:
            return None
        raw, expires = item
        if expires < time.monotonic():
            return None
        return orjson.loads(raw)

    async def read_stream(self, job_id: str, start: int = 0) -> list[str]:
        chunks, expires = self._streams.get(job_id, ([], 0.0))
        if expires and expires < time.monotonic():
            self._streams.pop(job_id, None)
            return []
        return chunks[start:]

    # --- workers ---
    async def take(self, worker_id: str, max_tasks: int, timeout: float) -> list[Delivery]:
        if not self._tasks:
            self._not_empty.clear()
            try:
                await asyncio.wait_for(self._not_empty.wait(), timeout)
            except TimeoutError:
                return []
        out: list[Delivery] = []
        in_flight = self._in_flight.setdefault(worker_id, [])
        while self._tasks and len(out) < max_tasks:
            raw = self._tasks.popleft()
            in_flight.append(raw)
            delivery = Delivery.from_raw(raw)
            if delivery.task is not None:
                self._job_types[delivery.task.job_id] = delivery.task.job_type
            out.append(delivery)
        if not self._tasks:
            self._not_empty.clear()
        return out

    def _ack(self, worker_id: str, raw: bytes) -> None:
        in_flight = self._in_flight.get(worker_id)
        if in_flight and raw in in_flight:
            in_flight.remove(raw)

    async def publish_result(self, worker_id: str, delivery: Delivery, envelope: dict[str, Any]) -> bool:
        self._ack(worker_id, delivery.raw)
        assert delivery.task is not None
        task = delivery.task
        now = time.monotonic()
        self._expire(now)
        if task.job_id in self._done:
            return False
        self._done[task.job_id] = now + task.result_ttl
        heapq.heappush(self._expiry, (now + task.result_ttl, task.job_id))
        self._results[task.job_id] = (encode_result(envelope), now + task.result_ttl)
        self._job_types.pop(task.job_id, None)
        for fut in self._result_waiters.pop(task.job_id, []):
            if not fut.done():
                fut.set_result(None)
        return True

    def _expire(self, now: float) -> None:
        # A heap of (expiry, job_id) keeps this O(expired) per call; a full sweep made every publish O(answered).
        heap = self._expiry
        while heap and heap[0][0] < now:
            _, job_id = heapq.heappop(heap)
            for store in (self._done, self._results, self._streams):
                item = store.get(job_id)
                if item is not None and (item if isinstance(item, float) else item[1]) < now:
                    del store[job_id]

    async def append_stream(self, job_id: str, chunk: str, ttl: int) -> None:
        chunks, _ = self._streams.get(job_id, ([], 0.0))
        chunks.append(chunk)
        expires = time.monotonic() + ttl
        self._streams[job_id] = (chunks, expires)
        heapq.heappush(self._expiry, (expires, job_id))

    async def dead_letter(self, worker_id: str, delivery: Delivery, reason: str) -> None:
        self._ack(worker_id, delivery.raw)
        self._dead.append(
            {
                "task": delivery.raw.decode("utf-8", "replace"),
                "reason": reason,
                "job_id": delivery.task.job_id if delivery.task else peek_job_id(delivery.raw),
                "worker": worker_id,
                "failed_at": time.time(),
                "attempts": delivery.attempt,
            }
        )

    async def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        self._workers[worker_id] = {**info, "last_seen": time.time()}

    async def release(self, worker_id: str) -> int:
        unfinished = self._in_flight.pop(worker_id, [])
        self._tasks.extendleft(reversed(unfinished))
        if unfinished:
            self._not_empty.set()
        self._workers.pop(worker_id, None)
        return len(unfinished)

    # --- operators ---
    async def stats(self) -> QueueStats:
        return QueueStats(
            tasks=len(self._tasks),
            processing=sum(len(v) for v in self._in_flight.values()),
            dead=len(self._dead),
            workers=dict(self._workers),
        )

    async def dead_list(self, start: int = 0, count: int = 50) -> list[dict[str, Any]]:
        return list(self._dead)[start : start + count]

    async def dead_requeue(self, job_id: str | None = None) -> int:
        keep: deque[dict[str, Any]] = deque(maxlen=self._dead.maxlen)
        moved = 0
        for entry in self._dead:
            if job_id is None or entry.get("job_id") == job_id:
                self._done.pop(entry.get("job_id") or "", None)  # let the rerun answer
                self.push_raw(entry["task"].encode())
                moved += 1
            else:
                keep.append(entry)
        self._dead = keep
        return moved

    async def dead_purge(self) -> int:
        n = len(self._dead)
        self._dead.clear()
        return n

    async def close(self) -> None:
        return None
