"""`/metrics` and `/healthz` on one small aiohttp server per process, whatever its role.

`/healthz` is 200 while this process does its job and 503 with a JSON reason when it does not:
- a gateway that is not connected (not yet, or lost and not resumed);
- a worker that was stopped, or has not asked the queue for work (its take loop wakes at least once a second, and
  heartbeats alongside) for longer than `metrics.health_stale_after` seconds: Redis down or the loop wedged.
Orchestrators (docker compose, systemd watchdogs, Kubernetes) restart on 503; Prometheus scrapes `/metrics`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bot import metrics


@dataclass(frozen=True)
class WorkerView:
    worker_id: str
    stopping: bool
    last_take: float


@dataclass
class HealthReport:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        return orjson.dumps({"status": "ok" if self.ok else "unhealthy", "reasons": self.reasons, **self.details})


def evaluate(
    *,
    gateway_expected: bool,
    gateway_connected: bool,
    workers: list[WorkerView],
    now: float,
    stale_after: float,
) -> HealthReport:
    """Plain logic: the health of one process from what it owns."""
    reasons: list[str] = []
    if gateway_expected and not gateway_connected:
        reasons.append("gateway disconnected")
    for w in workers:
        if w.stopping:
            reasons.append(f"worker {w.worker_id} stopped")
        elif now - w.last_take > stale_after:
            reasons.append(f"worker {w.worker_id} has not dequeued for {now - w.last_take:.0f}s")
    details = {"workers": len(workers), "gateway": gateway_connected if gateway_expected else None}
    return HealthReport(ok=not reasons, reasons=reasons, details=details)


class GatewayTracker:
    """Follows the gateway connection through nextcord's events; keeps GATEWAY_CONNECTED in step."""

    def __init__(self) -> None:
        self.connected = False
        self.bot: Any = None

    def attach(self, bot: Any) -> None:
        self.bot = bot
        for event in ("on_connect", "on_ready", "on_resumed", "on_shard_connect", "on_shard_resumed"):
            bot.add_listener(self._up, event)
        for event in ("on_disconnect", "on_shard_disconnect"):
            bot.add_listener(self._down, event)
        if bot.is_ready() and not bot.is_closed():  # attached after READY already arrived
            self._set(True)

    async def _up(self, *_: Any) -> None:
        self._set(True)

    async def _down(self, *_: Any) -> None:
        self._set(False)

    def _set(self, value: bool) -> None:
        self.connected = value
        metrics.GATEWAY_CONNECTED.set(1 if value else 0)

    def is_connected(self) -> bool:
        # close() does not always dispatch on_disconnect: a closed client is down whatever the last event said.
        if self.bot is not None and self.bot.is_closed():
            if self.connected:
                self._set(False)
            return False
        return self.connected


class HealthServer:
    def __init__(self, check: Any) -> None:
        self._check = check  # () -> HealthReport
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        report: HealthReport = self._check()
        return web.Response(body=report.body(), status=200 if report.ok else 503, content_type="application/json")


def now() -> float:
    return time.time()
