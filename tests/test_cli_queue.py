"""`bot queue ping|stats|dead ...` against a live worker process on the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import orjson
import pytest
import redis

from tests.reliability.conftest import raw, shared_url, start_worker  # noqa: F401 - fixtures shared with them
from tests.reliability.procs import ROOT, WorkerProcess, wait_until

pytestmark = pytest.mark.redis


def bot(namespace: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env.update(REDIS_URL=url, TASK_NAMESPACE=namespace, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", "from cli import app; app()", "queue", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "tests",  # no config.toml here
    )


def test_queue_commands_against_a_live_worker(
    raw: redis.Redis,  # noqa: F811 - fixtures imported above
    namespace: str,
    shared_url: str,  # noqa: F811
    start_worker: Callable[..., WorkerProcess],  # noqa: F811
) -> None:
    worker = start_worker(shared_url, heartbeat_interval=0.3, heartbeat_ttl=2)
    out = bot(namespace, shared_url, "ping", "--count", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["ping 1", "ping 2", "ping 3"]
    assert f"-{worker.proc.pid}-" in lines[0] and lines[3].startswith("round trip: median ")

    raw.rpush(f"{namespace}:tasks", b"{broken", b'{"job_id":"d2","job_type":"ping","payload":"x"}')
    wait_until(lambda: raw.llen(f"{namespace}:dead") == 2, 10, "two dead letters")
    stats = bot(namespace, shared_url, "stats")
    assert stats.returncode == 0, stats.stderr
    assert f"namespace {namespace}: 0 waiting, 0 in processing, 2 dead" in stats.stdout
    assert f"-{worker.proc.pid}-" in stats.stdout and "alive" in stats.stdout

    listed = bot(namespace, shared_url, "dead", "list")
    assert listed.returncode == 0
    rows = sorted(line.split("\t")[1:] for line in listed.stdout.splitlines()[:2])  # served concurrently
    assert rows[0][0] == "-" and rows[0][2].startswith("malformed task: not valid JSON")
    assert rows[1][0] == "d2" and "payload must be a JSON object" in rows[1][2]  # job id kept for requeue
    index = next(i for i, line in enumerate(listed.stdout.splitlines()) if "\td2\t" in line)
    shown = bot(namespace, shared_url, "dead", "show", str(index))
    assert orjson.loads(shown.stdout)["task"] == '{"job_id":"d2","job_type":"ping","payload":"x"}'

    # Requeue one (it dies again: still malformed), purge the rest.
    requeued = bot(namespace, shared_url, "dead", "requeue", "d2")
    assert requeued.stdout.strip() == "requeued 1 task(s)"
    wait_until(lambda: raw.llen(f"{namespace}:dead") == 2 and raw.llen(f"{namespace}:tasks") == 0, 10, "rerun")
    purged = bot(namespace, shared_url, "dead", "purge", "--yes")
    assert purged.stdout.strip() == "purged 2 task(s)" and raw.llen(f"{namespace}:dead") == 0

    worker.close()  # SIGKILL: a ping with nobody listening fails with one line and exit 1
    lonely = bot(namespace, shared_url, "ping", "--count", "1", "--timeout", "0.5")
    assert lonely.returncode == 1 and "no worker answered ping 1 within 0.5s" in lonely.stderr


def test_queue_commands_without_redis_fail_with_one_line(namespace: str) -> None:
    from tests.services import free_port

    out = bot(namespace, f"redis://127.0.0.1:{free_port()}/0", "stats")
    assert out.returncode == 2
    assert out.stderr.startswith("error: cannot reach Redis at redis://127.0.0.1:") and out.stderr.count("\n") == 1
