"""The reaper's edge: a worker whose heartbeat merely lagged. Its tasks go back to the HEAD of the queue, run again
elsewhere, and each is still answered once; once it beats again, nothing of its is taken a second time."""

from __future__ import annotations

import anyio
import pytest

from queue_backends.redis import RedisQueue

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_lagging_worker_tasks_return_to_the_head_and_are_answered_once(
    shared_url: str, namespace: str, redis_client
) -> None:
    q = RedisQueue(shared_url, namespace, reliable=True, heartbeat_ttl=0.3)
    try:
        first = [await q.enqueue("test_echo", {"n": i}) for i in range(2)]
        await q.heartbeat("slow", {})
        taken = await q.take("slow", 2, timeout=1)
        later = await q.enqueue("test_echo", {"n": 2})  # queued after slow's tasks were taken
        await anyio.sleep(0.4)  # slow's heartbeat lapses (a long GC pause, a blocked loop)

        await q.heartbeat("fresh", {})  # heartbeats reap
        again = await q.take("fresh", 3, timeout=1)
        assert [d.task.job_id for d in again] == [first[0].job_id, first[1].job_id, later.job_id]  # head, in order
        assert [d.attempt for d in again] == [2, 2, 1]

        # The lagging worker finishes after all: its answer counts, the rerun's is dropped.
        assert await q.publish_result("slow", taken[0], {"status": "ok", "by": "slow"}) is True
        assert await q.publish_result("fresh", again[0], {"status": "ok", "by": "fresh"}) is False
        assert await q.publish_result("fresh", again[1], {"status": "ok", "by": "fresh"}) is True
        assert await q.publish_result("slow", taken[1], {"status": "ok", "by": "slow"}) is False
        assert await q.wait_for_result(first[0].job_id, 1) == {"status": "ok", "by": "slow"}
        assert await q.wait_for_result(first[1].job_id, 1) == {"status": "ok", "by": "fresh"}
        assert await redis_client.llen(q.results_key(first[0].job_id)) == 0  # nothing published twice

        # slow beats again and takes new work: a second reap must not touch it.
        await q.heartbeat("slow", {})
        extra = await q.enqueue("test_echo", {"n": 3})
        (mine,) = await q.take("slow", 1, timeout=1)
        assert mine.task.job_id == extra.job_id
        await redis_client.delete(f"{namespace}:reaper")  # let the next heartbeat reap at once
        assert await q.reap("fresh") == 0
        assert await redis_client.llen(q.processing_key("slow")) == 1
        assert (await q.stats()).processing == 2  # slow's new task and fresh's unanswered rerun of `later`
    finally:
        await q.close()
