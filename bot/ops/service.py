"""Wires the ops pieces into a running process (called from bot/runner.py): the /metrics + /healthz server, the
queue-depth gauge refresh, and the bot's own alerts (started/stopped, no workers, backlog, dead letters)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from bot import metrics
from bot.ops.alerts import Alerter, AlertPolicy, QueueSnapshot
from bot.ops.health import GatewayTracker, HealthReport, HealthServer, WorkerView, evaluate

if TYPE_CHECKING:
    from bot.runner import Runtime

log = logging.getLogger(__name__)

OPS_KEY = "ops"  # runtime.extras[OPS_KEY] -> Ops


class Ops:
    def __init__(self, runtime: Runtime) -> None:
        cfg = runtime.config
        self.runtime = runtime
        self.tracker = GatewayTracker()
        self.server = HealthServer(self.health)
        self.alerter = Alerter(
            cfg.notify.status_webhook if cfg.notify.alerts else "",
            AlertPolicy(
                interval=cfg.notify.alert_interval,
                no_workers_after=cfg.notify.no_workers_after,
                backlog_threshold=cfg.notify.backlog_threshold,
            ),
            username=f"Steward ({cfg.bot.instance_name})" if cfg.bot.instance_name else "Steward",
        )
        self.stopped = False

    def health(self) -> HealthReport:
        rt = self.runtime
        return evaluate(
            gateway_expected=rt.role in ("all", "gateway"),
            gateway_connected=self.tracker.is_connected(),
            workers=[WorkerView(w.worker_id, w.stopping, w.last_take) for w in rt.workers],
            now=time.time(),
            stale_after=rt.config.metrics.health_stale_after,
        )

    @property
    def watches_queue(self) -> bool:
        # One alert source per deployment: the process with the gateway (the first shard when sharded).
        cfg = self.runtime.config
        return self.runtime.role in ("all", "gateway") and (not cfg.discord.shard_ids or 0 in cfg.discord.shard_ids)

    async def poll_queue(self) -> None:
        cfg = self.runtime.config
        while True:
            try:
                s = await self.runtime.queue.stats()
            except Exception as exc:  # Redis down: the workers' health says so; keep polling
                log.debug("queue stats unavailable: %s", type(exc).__name__)
            else:
                for name, value in (("tasks", s.tasks), ("processing", s.processing), ("dead", s.dead)):
                    metrics.QUEUE_DEPTH.labels(list=name).set(value)
                if self.watches_queue:
                    now = time.time()
                    live = sum(1 for info in s.workers.values() if _alive(info, now, cfg.queue.heartbeat_ttl))
                    await self.alerter.observe(QueueSnapshot(s.tasks, s.processing, s.dead, live), now)
            await anyio.sleep(cfg.metrics.queue_poll_interval)


def _alive(info: dict[str, Any], now: float, ttl: float) -> bool:
    if "alive" in info:  # Redis: the heartbeat key exists or expired
        return bool(info["alive"])
    return now - float(info.get("last_seen", 0)) < ttl  # memory queue: judge by the last beat


async def start_ops(runtime: Runtime, tg: anyio.abc.TaskGroup) -> Ops:
    cfg = runtime.config
    ops = Ops(runtime)
    runtime.extras[OPS_KEY] = ops
    if runtime.bot is not None:
        ops.tracker.attach(runtime.bot)
    if cfg.metrics.enabled:
        try:
            runtime.metrics_port = await ops.server.start(cfg.metrics.host, cfg.metrics.port)
        except OSError as exc:  # port taken (a second bot on this host?) or host not local: one line, not a trace
            from bot.runner import StartupError

            if runtime.bot is not None:  # already logging in: close its HTTP session rather than leak it
                await runtime.bot.close()
            raise StartupError(
                f"metrics.port: cannot listen on {cfg.metrics.host}:{cfg.metrics.port} ({exc.strerror or exc}); "
                "set STEWARD_METRICS__PORT to a free port (0 = any) or STEWARD_METRICS__ENABLED=false"
            ) from None
        log.info("metrics and health on http://%s:%d/metrics and /healthz", cfg.metrics.host, runtime.metrics_port)
    tg.start_soon(ops.poll_queue)
    await ops.alerter.lifecycle("started", runtime.role, cfg.bot.instance_name, time.time())
    return ops


async def stop_ops(runtime: Runtime) -> None:
    ops: Ops | None = runtime.extras.get(OPS_KEY)
    if ops is None or ops.stopped:
        return
    ops.stopped = True
    with anyio.move_on_after(5):  # shutting down must not hang on a slow webhook
        await ops.alerter.lifecycle("stopped", runtime.role, runtime.config.bot.instance_name, time.time())
    await ops.server.stop()
