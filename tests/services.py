"""Find the real services the tests use, and decide what happens when one is missing.

On a developer machine without Redis or PostgreSQL the tests that need them skip with the reason; under CI
(`CI=true`) a missing service is a failure, never a skip, so a green CI always means the tests really ran.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    """Skip (locally) or fail (in CI) when `service` does not answer on host:port."""
    if _reachable(host, port):
        return
    reason = f"{service} is not reachable on {host}:{port}"
    if in_ci():
        pytest.fail(f"{reason}; CI=true so this is a failure, not a skip")
    pytest.skip(reason)


def require_redis() -> str:
    require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


def require_postgres() -> str:
    require("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
