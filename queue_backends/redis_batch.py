"""Send the commands many coroutines issue at about the same time as one pipeline: one round trip, one write.

A worker running 64 jobs publishes up to 64 results at once; awaiting each on its own pooled connection costs a
pool checkout, a syscall and a reply read per job. The batcher queues commands and, while one pipeline is on the
wire, collects the next, so batches grow with load and a lone command still goes out on the next loop turn.
Each command keeps its own reply or error; nothing is made atomic across commands that was not before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis


class CommandBatcher:
    def __init__(self, redis: aioredis.Redis, max_batch: int = 512) -> None:
        self._redis = redis
        self._max_batch = max_batch
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # held so the running flush is not garbage-collected

    async def call(self, *args: Any) -> Any:
        """Run one command in the next pipeline and return its reply (or raise its error)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((args, fut))
        if not self._flushing:
            self._flushing = True
            self._task = asyncio.get_running_loop().create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._send(batch)
        finally:
            self._flushing = False
            if self._pending:  # a caller queued while the last send was failing; start over for it
                self._flushing = True
                self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed: every caller sees it and retries its own way
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else ConnectionError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, fut), reply in zip(batch, replies, strict=True):
            if fut.done():  # the caller was cancelled; its command ran anyway, as a lone call's would have
                continue
            if isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)
