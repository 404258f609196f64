"""Real processes for the reliability tests: a `redis-server` of our own (so tests can stop, kill and restart it)
and `bot run --role=worker` subprocesses with the test jobs of `tests/reliability/jobs.py` registered."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services import free_port, in_ci

ROOT = Path(__file__).resolve().parents[2]


def require_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not installed (the reliability tests start and stop their own)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true so this is a failure, not a skip")
        pytest.skip(reason)
    return path


def _wait_port(port: int, up: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.02)
    raise TimeoutError(f"port {port} did not come {'up' if up else 'down'} within {timeout}s")


class RedisServer:
    """One redis-server on a spare port. `persistent=True` keeps an fsync-always AOF in `workdir`, so a restart
    keeps the queue as a real deployment with persistence would (with --save '' a restart empties Redis)."""

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
        self.binary = require_redis_server()
        self.port = free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.workdir)]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        with open(self.workdir / "redis.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait_port(self.port, up=True)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        _wait_port(self.port, up=False)
        self.proc = None


class WorkerProcess:
    """`bot run --role=worker` as a child process; its log goes to a file (10k warnings would fill a pipe)."""

    def __init__(self, redis_url: str, namespace: str, workdir: Path, **settings: object) -> None:
        self.log_path = workdir / f"worker-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
        env.update(
            REDIS_URL=redis_url,
            TASK_NAMESPACE=namespace,
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            STEWARD_METRICS__ENABLED="false",
        )
        for key, value in settings.items():
            env[f"STEWARD_QUEUE__{key.upper()}"] = str(value)
        env.pop("DISCORD_TOKEN", None)
        # Import the test jobs before the CLI so the worker serves them; cwd has no config.toml.
        code = "import tests.reliability.jobs; from cli import app; app()"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, "run", "--role=worker", "--no-migrate"],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
