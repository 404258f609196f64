"""The gateway's side of the queue: enqueue a job and deal with its result in the background.

`on_message` must never wait on a 75 s LLM reply, so `submit()` returns at once and a task in the client's task
group waits for the result, streams partial output to a callback, and logs (then drops) a timeout.

With `--role=all` and Redis configured, an unreachable Redis is not an outage: jobs go to the in-process memory
queue served by the embedded workers, and back to Redis once it answers again (each switch logged once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from bot.config import Config
from bot.jobs import JobTimeout, Task
from queue_backends.base import QueueBackend, QueueUnavailable

log = logging.getLogger(__name__)

ResultCallback = Callable[[dict[str, Any]], Awaitable[None]]
ChunkCallback = Callable[[str], Awaitable[None]]

STREAM_POLL_INTERVAL = 1.0  # Discord edits at most about once a second
RETRY_PRIMARY_AFTER = 5.0  # seconds on the fallback before trying Redis again


class JobClient:
    def __init__(
        self,
        primary: QueueBackend,
        config: Config,
        task_group: anyio.abc.TaskGroup,
        *,
        fallback: QueueBackend | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.config = config
        self._tg = task_group
        self._on_fallback_since: float | None = None
        self._routes: dict[str, QueueBackend] = {}  # job_id -> the backend it went to
        self.in_flight = 0

    @property
    def using_fallback(self) -> bool:
        return self._on_fallback_since is not None

    async def enqueue(self, job_type: str, payload: dict[str, Any], *, requested_by: str | None = None) -> Task:
        """Queue a job now; raise QueueUnavailable when no backend can take it (gateway role, Redis down)."""
        if self._on_fallback_since is not None and time.monotonic() - self._on_fallback_since < RETRY_PRIMARY_AFTER:
            return await self._enqueue_fallback(job_type, payload, requested_by)
        try:
            task = await self.primary.enqueue(
                job_type, payload, requested_by=requested_by, result_ttl=self.config.queue.result_ttl
            )
        except QueueUnavailable:
            if self.fallback is None:
                log.error("queue unavailable: %s job not queued (Redis unreachable)", job_type)
                raise
            if self._on_fallback_since is None:
                log.error("Redis unreachable: running jobs on the embedded workers until it returns")
            self._on_fallback_since = time.monotonic()
            return await self._enqueue_fallback(job_type, payload, requested_by)
        if self._on_fallback_since is not None:
            log.warning("Redis reachable again: jobs go back to the shared queue")
            self._on_fallback_since = None
        self._routes[task.job_id] = self.primary
        return task

    async def _enqueue_fallback(self, job_type: str, payload: dict[str, Any], requested_by: str | None) -> Task:
        assert self.fallback is not None
        task = await self.fallback.enqueue(job_type, payload, requested_by=requested_by)
        self._routes[task.job_id] = self.fallback
        return task

    async def run(
        self,
        job_type: str,
        payload: dict[str, Any],
        *,
        requested_by: str | None = None,
        timeout: float | None = None,
        on_chunk: ChunkCallback | None = None,
    ) -> dict[str, Any]:
        """Enqueue and wait for the envelope (for callers that are themselves background tasks)."""
        task = await self.enqueue(job_type, payload, requested_by=requested_by)
        return await self.wait(task, timeout=timeout, on_chunk=on_chunk)

    async def wait(
        self, task: Task, *, timeout: float | None = None, on_chunk: ChunkCallback | None = None
    ) -> dict[str, Any]:
        backend = self._routes.get(task.job_id, self.primary)
        timeout = self.config.wait_timeout(task.job_type) if timeout is None else timeout
        self.in_flight += 1
        try:
            if on_chunk is None:
                return await backend.wait_for_result(task.job_id, timeout)
            return await self._wait_streaming(backend, task, timeout, on_chunk)
        except JobTimeout as exc:
            raise JobTimeout(task.job_id, task.job_type, timeout) from exc
        finally:
            self.in_flight -= 1
            self._routes.pop(task.job_id, None)

    async def _wait_streaming(
        self, backend: QueueBackend, task: Task, timeout: float, on_chunk: ChunkCallback
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}

        async def poll_chunks(scope: anyio.CancelScope) -> None:
            seen = 0
            while True:
                await anyio.sleep(STREAM_POLL_INTERVAL)
                try:
                    chunks = await backend.read_stream(task.job_id, seen)
                except Exception:  # a missed edit is harmless; the final result still arrives
                    log.debug("could not read stream of %s", task.job_id, exc_info=True)
                    continue
                if chunks:
                    seen += len(chunks)
                    await on_chunk("".join(chunks))

        async with anyio.create_task_group() as tg:
            tg.start_soon(poll_chunks, tg.cancel_scope)
            result = await backend.wait_for_result(task.job_id, timeout)
            tg.cancel_scope.cancel()
        return result

    def submit(
        self,
        job_type: str,
        payload: dict[str, Any],
        *,
        requested_by: str | None = None,
        on_result: ResultCallback | None = None,
        on_chunk: ChunkCallback | None = None,
        on_failure: Callable[[str], Awaitable[None]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Fire and forget from an event handler: the job runs and is awaited in a background task."""
        self._tg.start_soon(self._submit, job_type, payload, requested_by, on_result, on_chunk, on_failure, timeout)

    async def _submit(
        self,
        job_type: str,
        payload: dict[str, Any],
        requested_by: str | None,
        on_result: ResultCallback | None,
        on_chunk: ChunkCallback | None,
        on_failure: Callable[[str], Awaitable[None]] | None,
        timeout: float | None,
    ) -> None:
        try:
            task = await self.enqueue(job_type, payload, requested_by=requested_by)
        except QueueUnavailable:
            if on_failure:
                await on_failure("unavailable")
            return
        try:
            envelope = await self.wait(task, timeout=timeout, on_chunk=on_chunk)
        except JobTimeout as exc:
            log.warning("job %s (%s) timed out after %.0fs; dropped", task.job_id, job_type, exc.timeout)
            if on_failure:
                await on_failure("timeout")
            return
        if on_result is not None:
            try:
                await on_result(envelope)
            except Exception:
                log.exception("handling the result of job %s (%s) failed", task.job_id, job_type)
