"""The worker runtime: take tasks, run their handlers, publish envelopes, never lose or wedge on bad input.

Adding a job is one function and one registration:

    @job("shout")
    async def shout(payload: dict, ctx: JobContext) -> dict:
        return {"text": payload["text"].upper()}

The returned dict is published as `{"status": "ok", **result}`. Raise `JobError("short reason")` for a failure the
requester may see, `RetryableJobError` for one worth another attempt; any other exception becomes a short error
envelope and its traceback goes to the log only.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson

from bot import jobs
from bot.config import Config
from bot.jobs import JobError, RetryableJobError
from queue_backends.base import Delivery, QueueBackend
from queue_backends.redis import REDIS_DOWN, make_worker_id

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], "JobContext"], Awaitable[dict[str, Any]]]

# Modules whose import registers handlers. A module listed here that is missing is a packaging error.
JOB_MODULES = ["bot.builtin_jobs", "bot.llm.jobs", "bot.safety.jobs"]


@dataclass(slots=True)
class JobSpec:
    name: str
    func: Handler
    run_limit: float | None = None  # seconds; None = just below the producer's configured wait


HANDLERS: dict[str, JobSpec] = {}


def job(name: str, *, run_limit: float | None = None) -> Callable[[Handler], Handler]:
    """Register `func` as the handler of job type `name`."""

    def register(func: Handler) -> Handler:
        if name in HANDLERS and HANDLERS[name].func is not func:
            raise ValueError(f"job type {name!r} is registered twice")
        HANDLERS[name] = JobSpec(name, func, run_limit)
        return func

    return register


def load_handlers() -> dict[str, JobSpec]:
    for module in JOB_MODULES:
        importlib.import_module(module)
    return HANDLERS


@dataclass(slots=True)
class JobContext:
    job_id: str
    job_type: str
    requested_by: str | None
    attempt: int
    worker_id: str
    config: Config
    backend: QueueBackend
    result_ttl: int = jobs.DEFAULT_RESULT_TTL
    state: dict[str, Any] = field(default_factory=dict)  # per-worker shared objects (API clients)

    async def stream(self, chunk: str) -> None:
        """Append partial output that the requester can show before the final result (LLM streaming)."""
        await self.backend.append_stream(self.job_id, chunk, self.result_ttl)


async def _close_clients(state: dict[str, Any]) -> None:
    if not state:
        return  # no job cached anything: do not import the openai package just to close nothing
    from bot.llm.provider import close_clients  # the LLM and safety jobs cache their clients in `state`

    try:
        await close_clients(state)
    except Exception:
        log.debug("closing API clients failed", exc_info=True)


class Worker:
    """Consumes one backend with bounded concurrency until `stop()`; then drains within the grace period."""

    def __init__(
        self,
        backend: QueueBackend,
        config: Config,
        *,
        worker_id: str | None = None,
        concurrency: int | None = None,
        handlers: dict[str, JobSpec] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.worker_id = worker_id or make_worker_id()
        self.concurrency = concurrency or config.queue.worker_concurrency
        self.handlers = load_handlers() if handlers is None else handlers
        self.state: dict[str, Any] = {}
        self.in_flight = 0
        self.processed = 0
        self.last_take = time.time()  # health: when this worker last asked for work successfully
        self.started_at = time.time()
        self._stopping = anyio.Event()
        self.finished = anyio.Event()  # set once run() has drained and returned its unfinished tasks
        self._redis_lost = False
        self._take_scope: anyio.CancelScope | None = None
        self._take_failed = False
        self._serving: Counter[bytes] = Counter()  # raw tasks being served, to tell orphans in processing apart

    def stop(self) -> None:
        self._stopping.set()
        if self._take_scope is not None and getattr(self.backend, "reliable", True):
            self._take_scope.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        log.info(
            "worker %s taking %s jobs from %s (concurrency %d)",
            self.worker_id,
            ", ".join(sorted(self.handlers)) or "no",
            self.backend.name,
            self.concurrency,
        )
        # Register before taking anything, so the reaper knows whose processing list to return if we die.
        await self._beat()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat_loop)
            async with anyio.create_task_group() as jobs_tg:
                await self._take_loop(jobs_tg)
                # Stopping: let in-flight jobs finish within the grace period, then cancel them.
                with anyio.move_on_after(self.config.queue.shutdown_grace):
                    while self.in_flight:  # noqa: ASYNC110 - polling a counter, bounded by the grace
                        await anyio.sleep(0.05)
                if self.in_flight:
                    log.warning(
                        "worker %s: %d job(s) still running after %.0fs grace; returning them",
                        self.worker_id,
                        self.in_flight,
                        self.config.queue.shutdown_grace,
                    )
                jobs_tg.cancel_scope.cancel()
            tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            try:
                returned = await self.backend.release(self.worker_id)
                if returned:
                    log.info("worker %s returned %d unfinished task(s) to the queue", self.worker_id, returned)
            except REDIS_DOWN:
                log.warning("worker %s could not return its tasks (Redis down); the reaper will", self.worker_id)
            # Cached API clients (openai) hold connection pools; close them while the event loop still runs.
            await _close_clients(self.state)
        log.info("worker %s stopped after %d job(s)", self.worker_id, self.processed)
        self.finished.set()

    async def _take_loop(self, tg: anyio.abc.TaskGroup) -> None:
        slots = anyio.Semaphore(self.concurrency)
        backoff = 0.2
        while not self.stopping:
            free = slots.value
            if free == 0:
                await slots.acquire()
                slots.release()
                continue
            try:
                if self._take_failed:
                    await self._recover_orphans()
                deliveries = await self._take(free)
            except REDIS_DOWN as exc:
                self._take_failed = True
                self._on_redis_down(exc)
                await self._sleep_unless_stopping(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:  # e.g. a Redis error reply: log it, keep consuming (never stall silently)
                self._take_failed = True
                log.exception("worker %s: taking tasks failed; retrying", self.worker_id)
                await self._sleep_unless_stopping(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            self._on_redis_up()
            self.last_take = time.time()
            for delivery in deliveries:
                await slots.acquire()
                self.in_flight += 1
                self._serving[delivery.raw] += 1
                tg.start_soon(self._serve, delivery, slots)

    async def _recover_orphans(self) -> None:
        """A take whose reply was lost (connection dropped mid-command) may have moved tasks into our processing
        list that we never received; nobody would serve them while we live. Return those to the queue's head."""
        recover = getattr(self.backend, "recover_orphans", None)
        if recover is not None:
            n = await recover(self.worker_id, self._serving)
            if n:
                log.warning("worker %s: returned %d task(s) lost in a dropped take to the queue", self.worker_id, n)
        self._take_failed = False

    async def _take(self, free: int) -> list[Delivery]:
        # Wake up at least once a second to notice stop(). A take is only cancelled where that cannot lose a task
        # (memory queue, reliable Redis: a task already moved sits in our processing list and release() returns
        # it); a plain Redis pop might be answered after cancellation, so there we let it finish (<= 1 s).
        self._take_scope = anyio.CancelScope()
        with self._take_scope:
            if not self.stopping:
                return await self.backend.take(self.worker_id, free, timeout=1.0)
        return []

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._stopping.wait()

    def _on_redis_down(self, exc: BaseException) -> None:
        if not self._redis_lost:
            self._redis_lost = True
            log.error("worker %s lost its queue (%s); retrying with backoff", self.worker_id, type(exc).__name__)

    def _on_redis_up(self) -> None:
        if self._redis_lost:
            self._redis_lost = False
            log.warning("worker %s: queue reachable again; consuming", self.worker_id)

    def _heartbeat_info(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started_at,
            "concurrency": self.concurrency,
            "jobs": sorted(self.handlers),
            "processed": self.processed,
            "in_flight": self.in_flight,
        }

    async def _beat(self) -> None:
        try:
            await self.backend.heartbeat(self.worker_id, self._heartbeat_info())
        except REDIS_DOWN as exc:
            self._on_redis_down(exc)
        except Exception:  # a heartbeat failure must never end the worker; the take loop keeps going
            log.exception("worker %s: heartbeat failed", self.worker_id)

    async def _heartbeat_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.queue.heartbeat_interval)
            await self._beat()

    async def _serve(self, delivery: Delivery, slots: anyio.Semaphore) -> None:
        try:
            await self._handle(delivery)
        except Exception:  # a bug here must not kill the worker; the task stays in processing for the reaper
            log.exception("worker %s: unexpected failure while serving a task", self.worker_id)
        finally:
            self.in_flight -= 1
            self.processed += 1
            self._serving[delivery.raw] -= 1
            if not self._serving[delivery.raw]:
                del self._serving[delivery.raw]
            slots.release()

    async def _handle(self, delivery: Delivery) -> None:
        if delivery.task is None:
            log.warning("dead-lettering a malformed task: %s", delivery.malformed)
            await self._retry_redis(
                self.backend.dead_letter, self.worker_id, delivery, f"malformed task: {delivery.malformed}"
            )
            job_id = jobs.peek_job_id(delivery.raw)
            if job_id:  # answer the producer too, so it is not left waiting for the full timeout
                stub = Delivery(raw=delivery.raw, task=jobs.Task("?", {}, job_id=job_id))
                await self._publish(stub, jobs.error(f"malformed task: {delivery.malformed}"))
            return
        task = delivery.task
        max_attempts = self.config.queue.max_attempts
        if delivery.attempt > max_attempts:
            # Delivered again and again: a task that kills workers. Stop here and tell the producer.
            reason = f"gave up after {delivery.attempt - 1} attempt(s) (worker died each time)"
            await self._retry_redis(self.backend.dead_letter, self.worker_id, delivery, reason)
            await self._publish(delivery, jobs.error(reason))
            return
        spec = self.handlers.get(task.job_type)
        if spec is None:
            await self._publish(delivery, jobs.error(f"unknown job_type '{task.job_type[:100]}'"))
            return
        attempt = delivery.attempt
        while True:
            envelope, retry = await self._run_handler(spec, delivery, attempt)
            if not retry:
                await self._publish(delivery, envelope)
                return
            if attempt >= max_attempts or self.stopping:
                reason = f"failed after {attempt} attempt(s): {envelope['error']}"
                await self._retry_redis(self.backend.dead_letter, self.worker_id, delivery, reason)
                await self._publish(delivery, jobs.error(reason))
                return
            delay = min(0.5 * 2 ** (attempt - 1), 10.0)
            log.info("job %s (%s) attempt %d failed; retrying in %.1fs", task.job_id, task.job_type, attempt, delay)
            await anyio.sleep(delay)
            attempt += 1

    async def _run_handler(self, spec: JobSpec, delivery: Delivery, attempt: int) -> tuple[dict[str, Any], bool]:
        task = delivery.task
        assert task is not None
        ctx = JobContext(
            task.job_id,
            task.job_type,
            task.requested_by,
            attempt,
            self.worker_id,
            self.config,
            self.backend,
            task.result_ttl,
            self.state,
        )
        limit = spec.run_limit or max(1.0, self.config.wait_timeout(task.job_type) - 2.0)
        try:
            with anyio.fail_after(limit):
                result = await spec.func(task.payload, ctx)
            if not isinstance(result, dict):
                raise TypeError(f"handler returned {type(result).__name__}, not a dict")
            envelope = jobs.ok(result)
            orjson.dumps(envelope)  # fail here, not in publish, if the handler returned something unserializable
            return envelope, False
        except TimeoutError:
            log.warning("job %s (%s) ran past its %.0fs limit", task.job_id, task.job_type, limit)
            return jobs.error(f"job timed out after {limit:g}s"), False
        except RetryableJobError as exc:
            return jobs.error(str(exc) or "temporary failure"), True
        except JobError as exc:
            return jobs.error(str(exc) or "job failed"), False
        except Exception as exc:
            log.exception("job %s (%s) failed", task.job_id, task.job_type)
            return jobs.error(f"job failed: {type(exc).__name__}"), False

    async def _publish(self, delivery: Delivery, envelope: dict[str, Any]) -> None:
        published = await self._retry_redis(self.backend.publish_result, self.worker_id, delivery, envelope)
        if published is False and delivery.task is not None:
            log.info("job %s already answered by an earlier run; result not published twice", delivery.task.job_id)

    async def _retry_redis(self, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Keep trying an acknowledgement through a Redis outage: the result must not be lost."""
        backoff = 0.2
        deadline = time.monotonic() + max(60.0, self.config.queue.shutdown_grace)
        while True:
            try:
                result = await func(*args)
                self._on_redis_up()
                return result
            except REDIS_DOWN as exc:
                self._on_redis_down(exc)
                if time.monotonic() > deadline:
                    log.error("giving up publishing after Redis stayed down; the reaper will rerun the task")
                    return None
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
