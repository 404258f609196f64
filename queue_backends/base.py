"""The one queue protocol both backends implement, for producers (the gateway) and consumers (workers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.jobs import MalformedTask, Task, decode_task


@dataclass(slots=True)
class Delivery:
    """One task as a worker received it: the raw bytes (kept to acknowledge exactly what was taken), the decoded
    task or the reason it could not be decoded, and the attempt number (1 on first delivery)."""

    raw: bytes
    task: Task | None
    malformed: str | None = None
    attempt: int = 1

    @classmethod
    def from_raw(cls, raw: bytes | str, attempt: int = 1) -> Delivery:
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            return cls(raw=raw, task=decode_task(raw), attempt=attempt)
        except MalformedTask as exc:
            return cls(raw=raw, task=None, malformed=str(exc), attempt=attempt)


@dataclass(slots=True)
class QueueStats:
    tasks: int
    processing: int
    dead: int
    workers: dict[str, dict[str, Any]]  # worker id -> its last heartbeat info


class QueueUnavailable(ConnectionError):
    """The backend cannot be reached right now (Redis down); the caller decides whether to wait or fall back."""


@runtime_checkable
class QueueBackend(Protocol):
    name: str

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
        """Queue a task at the tail (FIFO) and return it, with its job_id."""
        ...

    async def wait_for_result(self, job_id: str, timeout: float) -> dict[str, Any]:
        """The result envelope of `job_id`; raises bot.jobs.JobTimeout when none arrives within `timeout`."""
        ...

    async def read_stream(self, job_id: str, start: int = 0) -> list[str]:
        """Chunks a streaming job has appended so far, from index `start` (non-blocking)."""
        ...

    # --- workers ---
    async def take(self, worker_id: str, max_tasks: int, timeout: float) -> list[Delivery]:
        """Up to `max_tasks` tasks from the head; waits up to `timeout` seconds for the first one."""
        ...

    async def publish_result(self, worker_id: str, delivery: Delivery, envelope: dict[str, Any]) -> bool:
        """Publish the envelope on the contract's results key and acknowledge the delivery, atomically.
        Returns False when a result for this job_id was already published (a job that ran twice answers once)."""
        ...

    async def append_stream(self, job_id: str, chunk: str, ttl: int) -> None:
        """Append a partial-output chunk for producers that stream (LLM replies)."""
        ...

    async def dead_letter(self, worker_id: str, delivery: Delivery, reason: str) -> None:
        """Move a task that cannot be served to the dead-letter list, with the reason, and acknowledge it."""
        ...

    async def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        """Tell the world this worker is alive; reliable backends also reap the tasks of dead workers."""
        ...

    async def release(self, worker_id: str) -> int:
        """On shutdown: return this worker's unfinished tasks to the head of the queue; returns how many."""
        ...

    # --- operators ---
    async def stats(self) -> QueueStats: ...

    async def dead_list(self, start: int = 0, count: int = 50) -> list[dict[str, Any]]: ...

    async def dead_requeue(self, job_id: str | None = None) -> int: ...

    async def dead_purge(self) -> int: ...

    async def close(self) -> None: ...
