"""Queue round trip: no-op jobs whose results the producer awaits, N in flight.

    .ci/env python bench/queue_roundtrip.py                 # Steward: bare asyncio, memory, redis plain/reliable
    .ci/bench python bench/queue_roundtrip.py --peers       # + arq, SAQ, taskiq-redis (list, stream), redis-benchmark

One producer process (this one) and one worker process on the same Redis, each system in its own namespace/db.
The Redis is a redis-server of our own on a spare port (so nothing else on the machine shares it); pass
--redis-url to use another. Peers come from the `bench` extra, which `.ci/bench` installs in
a venv of its own (arq pins redis-py < 6).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Submit = Callable[[], Awaitable[Any]]  # enqueue one no-op job and wait for its result


@dataclass
class Row:
    system: str
    inflight: int
    jobs: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    def pct(self, p: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000


async def drive(
    system: str, submit: Submit, inflight: int, jobs: int, *, max_seconds: float = 3.0, warmup: float = 0.5
) -> Row:
    """Keep `inflight` jobs outstanding until `jobs` have completed (or `max_seconds` passed); time each one."""
    warm_until = time.perf_counter() + warmup
    while time.perf_counter() < warm_until:
        await asyncio.gather(*(submit() for _ in range(inflight)))
    latencies: list[float] = []
    remaining = jobs
    stop_at = time.perf_counter() + max_seconds

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < stop_at:
            remaining -= 1
            t0 = time.perf_counter()
            await submit()
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(inflight)))
    return Row(system, inflight, len(latencies), time.perf_counter() - started, latencies)


# --- in-process baselines -------------------------------------------------------------------------------------


async def bench_bare_asyncio(inflight: int, jobs: int) -> Row:
    """The floor for an in-process queue: asyncio.Queue of (payload, future), consumers set the future."""
    queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = asyncio.Queue()

    async def consumer() -> None:
        while True:
            _payload, fut = await queue.get()
            fut.set_result({"status": "ok"})

    consumers = [asyncio.create_task(consumer()) for _ in range(8)]
    loop = asyncio.get_running_loop()

    async def submit() -> Any:
        fut = loop.create_future()
        queue.put_nowait(({}, fut))
        return await fut

    try:
        return await drive("bare asyncio.Queue+future", submit, inflight, jobs)
    finally:
        for c in consumers:
            c.cancel()


async def bench_steward_memory(inflight: int, jobs: int) -> Row:
    import anyio

    from bot.config import Config
    from bot.worker import Worker
    from queue_backends.memory import MemoryQueue

    register_noop()
    from bot.worker import HANDLERS

    queue = MemoryQueue()
    cfg = Config()
    cfg.queue.worker_concurrency = max(8, inflight)
    worker = Worker(queue, cfg, handlers={"noop": HANDLERS["noop"]})

    async def submit() -> Any:
        task = await queue.enqueue("noop", {})
        return await queue.wait_for_result(task.job_id, 10)

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        row = await drive("steward memory", submit, inflight, jobs)
        worker.stop()
    return row


# --- Steward on Redis -------------------------------------------------------------------------------------------


def register_noop() -> None:
    from bot.worker import HANDLERS, job

    if "noop" not in HANDLERS:

        @job("noop")
        async def noop(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
            return {}


def serve_steward() -> None:
    """Worker process: `bot run --role=worker` with the no-op job registered."""
    register_noop()
    from cli import app

    sys.argv = ["bot", "run", "--role=worker", "--no-migrate", "--log-level=WARNING"]
    app()


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], env=full, cwd=tempfile.gettempdir())


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def bench_steward_redis(url: str, reliable: bool, inflights: list[int], jobs: int) -> list[Row]:
    from queue_backends.redis import RedisQueue

    ns = f"bench-{uuid.uuid4().hex[:8]}"
    worker = spawn(
        ["--serve", "steward"],
        {
            "REDIS_URL": url,
            "TASK_NAMESPACE": ns,
            "STEWARD_QUEUE__RELIABLE": str(reliable).lower(),
            "STEWARD_QUEUE__WORKER_CONCURRENCY": str(max(inflights) * 2),
            "STEWARD_METRICS__ENABLED": "false",
        },
    )
    queue = RedisQueue(url, ns, reliable=reliable)
    name = f"steward redis {'reliable' if reliable else 'plain'}"

    async def submit() -> Any:
        task = await queue.enqueue("noop", {})
        result = await queue.wait_for_result(task.job_id, 30)
        assert result["status"] == "ok", result
        return result

    try:
        await asyncio.wait_for(submit(), 30)  # worker up
        return [await drive(name, submit, n, jobs) for n in inflights]
    finally:
        await queue.close()
        stop(worker)


# --- the table ------------------------------------------------------------------------------------------------


def print_table(rows: list[Row], reference: str = "steward redis reliable") -> None:
    ref = {r.inflight: r.rate for r in rows if r.system == reference}
    print(f"\n{'system':34} {'in flight':>9} {'jobs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x reliable':>10}")
    for r in rows:
        ratio = f"{r.rate / ref[r.inflight]:.2f}" if r.inflight in ref else "-"
        print(f"{r.system:34} {r.inflight:>9} {r.rate:>9.0f} {r.pct(0.5):>8.3f} {r.pct(0.99):>8.3f} {ratio:>10}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found: install it or pass --redis-url")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    return f"redis://127.0.0.1:{port}/0", proc


async def main(args: argparse.Namespace) -> None:
    inflights = [int(x) for x in args.inflight.split(",")]
    rows: list[Row] = []
    for n in inflights:
        rows.append(await bench_bare_asyncio(n, args.jobs))
        rows.append(await bench_steward_memory(n, args.jobs))
    url = args.redis_url
    server = None
    ceiling = ""
    if url is None:
        url, server = start_redis()
    try:
        for reliable in (False, True):
            rows += await bench_steward_redis(url, reliable, inflights, args.jobs)
        if args.peers:
            from bench import queue_peers

            rows += await queue_peers.run_all(url, inflights, args.jobs, spawn, stop, drive)
            ceiling = queue_peers.redis_benchmark_ceiling(url, inflights)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    rows.sort(key=lambda r: (r.inflight, -r.rate))
    print_table(rows)
    print(ceiling)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per measurement (at most ~3 s each)")
    parser.add_argument("--inflight", default="1,64", help="comma-separated jobs in flight")
    parser.add_argument("--peers", action="store_true", help="also arq, SAQ, taskiq-redis and redis-benchmark")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of starting one")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)  # internal: run as the worker process
    parser.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.serve == "steward":
        serve_steward()
    elif args.serve:
        from bench import queue_peers

        queue_peers.serve(args.serve)
    else:
        if args.uvloop:
            try:
                import uvloop

                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            except ImportError:
                pass
        asyncio.run(main(args))
