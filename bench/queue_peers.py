"""The peers of bench/queue_roundtrip.py: arq, SAQ and taskiq-redis doing the same no-op round trip, and the
ceiling redis-benchmark measures for the commands Steward's round trip sends.

Each peer runs as one worker process (`serve`) and one producer (`run_all`, in the bench's process), on its own
Redis database so no peer sees another's keys. Settings are short polling intervals for a no-op job whose
result is awaited, chosen by hand, not swept (docs/benchmarks.md); they are the knobs a user would turn, nothing
patched.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

# Redis database per peer (Steward uses db 0 with its own namespace).
PEER_DB = {"arq": 1, "saq": 2, "taskiq list": 3, "taskiq stream": 4}

# How often the polling peers look for work or results, in seconds. arq and taskiq poll Redis for results (arq
# also for jobs); their defaults (0.5 s, 0.2 s) would cap one job in flight at 2-5 jobs/s. A shorter poll lowers
# latency at one job in flight but spends CPU the worker needs at 64; these values were picked, not swept.
ARQ_POLL = 0.002
TASKIQ_POLL = 0.001
SAQ_POLL = 0.001  # SAQ's apply() polls job state; its pubsub wait (Job.refresh) can miss a fast job's update


def _db_url(url: str, db: int) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{db}").geturl()


async def _noop_arq(ctx: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _noop_saq(ctx: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _noop_taskiq() -> dict[str, Any]:
    return {}


def _taskiq_broker(kind: str, url: str, ns: str) -> Any:
    from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend, RedisStreamBroker

    backend: Any = RedisAsyncResultBackend(url, result_ex_time=300, keep_results=False)
    broker: Any
    if kind == "taskiq list":
        broker = ListQueueBroker(url, queue_name=ns)
    else:
        broker = RedisStreamBroker(url, queue_name=ns, consumer_group_name=ns)
    broker = broker.with_result_backend(backend)
    broker.register_task(_noop_taskiq, task_name="noop")
    return broker


# --- worker processes -----------------------------------------------------------------------------------------


def serve(name: str) -> None:
    """Run peer `name`'s worker until SIGTERM (env: BENCH_REDIS_URL, BENCH_NS, BENCH_CONCURRENCY)."""
    url, ns, concurrency = os.environ["BENCH_REDIS_URL"], os.environ["BENCH_NS"], int(os.environ["BENCH_CONCURRENCY"])
    _use_uvloop()
    if name == "arq":
        from arq.connections import RedisSettings
        from arq.worker import Worker, func

        Worker(
            functions=[func(_noop_arq, name="noop")],
            queue_name=ns,
            redis_settings=RedisSettings.from_dsn(url),
            max_jobs=concurrency,
            poll_delay=ARQ_POLL,
            keep_result=300,
            handle_signals=True,
        ).run()
    elif name == "saq":
        from saq import Queue, Worker

        async def run_saq() -> None:
            queue = Queue.from_url(url, name=ns, max_concurrent_ops=concurrency)
            worker = Worker(queue, functions=[("noop", _noop_saq)], concurrency=concurrency)
            await worker.start()

        asyncio.run(run_saq())
    elif name.startswith("taskiq"):
        from taskiq.api import run_receiver_task

        async def run_taskiq() -> None:
            broker = _taskiq_broker(name, url, ns)
            broker.is_worker_process = True
            await broker.startup()
            await run_receiver_task(broker, max_async_tasks=concurrency, run_startup=False)

        asyncio.run(run_taskiq())
    else:
        sys.exit(f"unknown peer {name!r}")


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# --- producers ------------------------------------------------------------------------------------------------

Submit = Callable[[], Awaitable[Any]]


async def _arq_producer(url: str, ns: str) -> tuple[Submit, Callable[[], Awaitable[None]]]:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=ns)

    async def submit() -> Any:
        job = await pool.enqueue_job("noop", _queue_name=ns)
        assert job is not None
        return await job.result(timeout=30, poll_delay=ARQ_POLL)

    return submit, pool.aclose


async def _saq_producer(url: str, ns: str) -> tuple[Submit, Callable[[], Awaitable[None]]]:
    from saq import Queue

    queue = Queue.from_url(url, name=ns, max_concurrent_ops=1000)
    await queue.connect()

    async def submit() -> Any:
        return await queue.apply("noop", timeout=30, poll_interval=SAQ_POLL)

    return submit, queue.disconnect


async def _taskiq_producer(kind: str, url: str, ns: str) -> tuple[Submit, Callable[[], Awaitable[None]]]:
    broker = _taskiq_broker(kind, url, ns)
    await broker.startup()
    task = broker.find_task("noop")

    async def submit() -> Any:
        sent = await task.kiq()
        result = await sent.wait_result(check_interval=TASKIQ_POLL, timeout=30)
        assert not result.is_err, result
        return result.return_value

    return submit, broker.shutdown


async def _until_up(name: str, submit: Submit, patience: float = 30.0) -> None:
    """First round trip, retried: SAQ's start-up sweep aborts a job it catches between dequeue and start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            await asyncio.wait_for(submit(), max(0.1, deadline - loop.time()))
            return
        except Exception as exc:
            if loop.time() > deadline:
                raise RuntimeError(f"{name}: no round trip within {patience:g}s: {exc!r}") from exc
            await asyncio.sleep(0.2)


async def run_all(
    url: str,
    inflights: list[int],
    jobs: int,
    spawn: Callable[[list[str], dict[str, str]], subprocess.Popen[bytes]],
    stop: Callable[[subprocess.Popen[bytes]], None],
    drive: Callable[..., Awaitable[Any]],
) -> list[Any]:
    """Every peer, one worker process each, driven by `drive` at each number of jobs in flight."""
    rows: list[Any] = []
    for name, db in PEER_DB.items():
        peer_url = _db_url(url, db)
        ns = f"bench-{uuid.uuid4().hex[:8]}"
        env = {"BENCH_REDIS_URL": peer_url, "BENCH_NS": ns, "BENCH_CONCURRENCY": str(max(8, 2 * max(inflights)))}
        worker = spawn(["--serve", name], env)
        close: Callable[[], Awaitable[None]] | None = None
        try:
            if name == "arq":
                submit, close = await _arq_producer(peer_url, ns)
            elif name == "saq":
                submit, close = await _saq_producer(peer_url, ns)
            else:
                submit, close = await _taskiq_producer(name, peer_url, ns)
            await _until_up(name, submit)
            for n in inflights:
                rows.append(await drive(name, submit, n, jobs))
        finally:
            if close is not None:
                await close()
            stop(worker)
    return rows


# --- the ceiling ----------------------------------------------------------------------------------------------

_TASK = '{"job_id":"__rand_int__","job_type":"noop","payload":{},"requested_by":null,"result_ttl":300}'
_PUBLISH = (
    "redis.call('LREM', KEYS[3], 1, ARGV[3]) redis.call('HDEL', KEYS[4], ARGV[4]) "
    "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then "
    "redis.call('RPUSH', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end return 0"
)
_PLAIN_PUBLISH = "redis.call('RPUSH', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], 300)"
_TAKE = (
    "local raw = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') "
    "if raw then redis.call('HINCRBY', KEYS[3], 'id', 1) end return raw"
)

# One Steward job's commands, as redis-benchmark runs them (unpipelined, like a client awaiting each reply).
CEILING_COMMANDS: dict[str, list[str]] = {
    "RPUSH task (producer)": ["RPUSH", "ceil:tasks", _TASK],
    "LPOP task (plain take)": ["LPOP", "ceil:tasks"],
    "EVAL LMOVE+HINCRBY (reliable take)": ["EVAL", _TAKE, "3", "ceil:tasks", "ceil:proc", "ceil:attempts"],
    # Steward sends RPUSH + EXPIRE in one MULTI/EXEC round trip; a script is the same work in one request.
    "EVAL RPUSH+EXPIRE (plain publish)": ["EVAL", _PLAIN_PUBLISH, "1", "ceil:r:__rand_int__", '{"status":"ok"}'],
    "EVAL publish script (reliable publish)": [
        "EVAL",
        _PUBLISH,
        "4",
        "ceil:r:__rand_int__",
        "ceil:d:__rand_int__",
        "ceil:proc",
        "ceil:attempts",
        '{"status":"ok"}',
        "300",
        "x",
        "id",
    ],
    "BLPOP result (producer)": ["LPOP", "ceil:r:__rand_int__"],
}
PLAIN = ["RPUSH task (producer)", "LPOP task (plain take)", "EVAL RPUSH+EXPIRE (plain publish)"]
PLAIN += ["BLPOP result (producer)"]
RELIABLE = ["RPUSH task (producer)", "EVAL LMOVE+HINCRBY (reliable take)", "EVAL publish script (reliable publish)"]
RELIABLE += ["BLPOP result (producer)"]


def _rps(host: str, port: int, clients: int, requests: int, command: list[str]) -> float:
    binary = shutil.which("redis-benchmark")
    assert binary is not None
    out = subprocess.run(
        [binary, "-h", host, "-p", str(port), "-c", str(clients), "-n", str(requests), "-r", "1000000", "-q", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return float(re.findall(r"([0-9.]+) requests per second", out)[-1])


def redis_benchmark_ceiling(url: str, inflights: list[int], requests: int = 20000) -> str:
    """redis-benchmark's requests/s for each command of a Steward job, and what that allows in jobs/s."""
    if shutil.which("redis-benchmark") is None:
        return "redis-benchmark not found: no ceiling measured"
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    lines = ["", "redis-benchmark ceiling (requests/s per command; jobs/s = 1 / sum of 1/rps over a job's commands)"]
    lines.append(f"{'command':42} " + " ".join(f"{f'c={n}':>9}" for n in inflights))
    rates: dict[str, list[float]] = {}
    for label, command in CEILING_COMMANDS.items():
        rates[label] = [_rps(host, port, n, requests, command) for n in inflights]
        lines.append(f"{label:42} " + " ".join(f"{r:>9.0f}" for r in rates[label]))
    for mode, labels in (("plain", PLAIN), ("reliable", RELIABLE)):
        ceil = [1 / sum(1 / rates[label][i] for label in labels) for i in range(len(inflights))]
        lines.append(f"{'=> ceiling jobs/s, ' + mode:42} " + " ".join(f"{c:>9.0f}" for c in ceil))
    return "\n".join(lines)
