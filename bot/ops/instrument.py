"""Job metrics at the two boundaries every job crosses, so neither the worker loop nor the job client changes.

- `InstrumentedQueue` wraps a QueueBackend: producers' `enqueue` counts `enqueued`, `wait_for_result` times the
  producer-side wait (JOB_WAIT_SECONDS), workers' `dead_letter` counts `dead`. Everything else is delegated, so the
  wrapper is the backend as far as callers (and the Redis wire format) are concerned.
- `instrument_handlers` wraps each registered handler: `started` on every attempt, then `succeeded`, `retried`
  (RetryableJobError: the worker tries again or, out of attempts, dead-letters it) or `failed`; run time goes to
  JOB_RUN_SECONDS, timeouts included (the worker's fail_after cancels the wrapped call). A result carrying
  `usage` (prompt_tokens/completion_tokens, as llm_reply returns) adds to LLM_TOKENS.
"""

from __future__ import annotations

import time
from typing import Any

from bot import metrics
from bot.jobs import RetryableJobError, Task
from bot.worker import JobContext, JobSpec
from queue_backends.base import Delivery, QueueBackend


def count_job(job_type: str, event: str) -> None:
    metrics.JOBS.labels(job_type=job_type, event=event).inc()


class InstrumentedQueue:
    def __init__(self, inner: QueueBackend) -> None:
        self.inner = inner
        self._types: dict[str, str] = {}  # job_id -> job_type, for the wait histogram label

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def enqueue(
        self,
        job_type: str,
        payload: dict[str, Any],
        requested_by: str | None = None,
        result_ttl: int | None = None,
        *,
        job_id: str | None = None,
    ) -> Task:
        task = await self.inner.enqueue(job_type, payload, requested_by, result_ttl, job_id=job_id)
        count_job(job_type, "enqueued")
        self._types[task.job_id] = job_type
        return task

    async def wait_for_result(self, job_id: str, timeout: float) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return await self.inner.wait_for_result(job_id, timeout)
        finally:
            job_type = self._types.pop(job_id, "unknown")
            metrics.JOB_WAIT_SECONDS.labels(job_type=job_type).observe(time.perf_counter() - started)

    async def dead_letter(self, worker_id: str, delivery: Delivery, reason: str) -> None:
        await self.inner.dead_letter(worker_id, delivery, reason)
        count_job(delivery.task.job_type if delivery.task else "malformed", "dead")


def instrument_queue(queue: QueueBackend) -> QueueBackend:
    return queue if isinstance(queue, InstrumentedQueue) else InstrumentedQueue(queue)  # type: ignore[return-value]


def count_tokens(result: object) -> None:
    """LLM_TOKENS from a result's `usage` (llm_reply returns the provider's counts; any job may)."""
    usage = result.get("usage") if isinstance(result, dict) else None
    if not isinstance(usage, dict):
        return
    for kind in ("prompt", "completion"):
        n = usage.get(f"{kind}_tokens")
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            metrics.LLM_TOKENS.labels(kind=kind).inc(n)


def instrument_handlers(handlers: dict[str, JobSpec]) -> dict[str, JobSpec]:
    return {name: JobSpec(spec.name, _timed(spec), spec.run_limit) for name, spec in handlers.items()}


def _timed(spec: JobSpec) -> Any:
    inner = spec.func
    if getattr(inner, "__steward_instrumented__", False):
        return inner

    async def run(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        count_job(spec.name, "started")
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await inner(payload, ctx)
            outcome = "succeeded"
            count_tokens(result)
            return result
        except RetryableJobError:
            outcome = "retried"
            raise
        finally:
            metrics.JOB_RUN_SECONDS.labels(job_type=spec.name).observe(time.perf_counter() - started)
            count_job(spec.name, outcome)

    run.__steward_instrumented__ = True  # type: ignore[attr-defined]
    return run
