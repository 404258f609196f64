"""Job metrics from a real Worker on the memory queue: lifecycle counters by type, run/wait histograms, tokens."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from prometheus_client import REGISTRY

from bot.config import Config
from bot.jobs import JobError, RetryableJobError
from bot.ops.instrument import instrument_handlers, instrument_queue
from bot.worker import JobContext, JobSpec, Worker
from queue_backends.memory import MemoryQueue

pytestmark = pytest.mark.anyio


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_worker_jobs_are_counted_by_type_and_outcome() -> None:
    flaky_calls = 0

    async def llm_like(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        return {"reply": "hi", "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}

    async def flaky(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        nonlocal flaky_calls
        flaky_calls += 1
        if flaky_calls == 1:
            raise RetryableJobError("try again")
        return {}

    async def broken(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        raise JobError("no")

    handlers = instrument_handlers(
        {
            "t_llm": JobSpec("t_llm", llm_like),
            "t_flaky": JobSpec("t_flaky", flaky),
            "t_broken": JobSpec("t_broken", broken),
        }
    )
    names = ("t_llm", "t_flaky", "t_broken")
    events = ("enqueued", "started", "succeeded", "failed", "retried", "dead")
    before = {(t, e): _value("steward_jobs_total", job_type=t, event=e) for t in names for e in events}
    tokens_before = {k: _value("steward_llm_tokens_total", kind=k) for k in ("prompt", "completion")}
    waits_before = _value("steward_job_wait_seconds_count", job_type="t_llm")

    queue = instrument_queue(MemoryQueue())
    cfg = Config()
    worker = Worker(queue, cfg, handlers=handlers, concurrency=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        tasks = [await queue.enqueue(t, {}) for t in names]
        with anyio.fail_after(10):
            results = [await queue.wait_for_result(task.job_id, 10) for task in tasks]
        worker.stop()
    assert [r["status"] for r in results] == ["ok", "ok", "error"]

    delta = {(t, e): _value("steward_jobs_total", job_type=t, event=e) - before[(t, e)] for t in names for e in events}
    assert {k: v for k, v in delta.items() if v} == {
        ("t_llm", "enqueued"): 1,
        ("t_llm", "started"): 1,
        ("t_llm", "succeeded"): 1,
        ("t_flaky", "enqueued"): 1,
        ("t_flaky", "started"): 2,
        ("t_flaky", "retried"): 1,
        ("t_flaky", "succeeded"): 1,
        ("t_broken", "enqueued"): 1,
        ("t_broken", "started"): 1,
        ("t_broken", "failed"): 1,
    }
    assert _value("steward_llm_tokens_total", kind="prompt") - tokens_before["prompt"] == 12
    assert _value("steward_llm_tokens_total", kind="completion") - tokens_before["completion"] == 5
    assert _value("steward_job_wait_seconds_count", job_type="t_llm") == waits_before + 1
    assert _value("steward_job_run_seconds_count", job_type="t_flaky") >= 2
