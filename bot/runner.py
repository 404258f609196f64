"""`bot run`: one process playing the gateway, the workers, or both, under one anyio task group.

    all      gateway + embedded workers; memory queue unless Redis is configured (then Redis, with the memory
             queue as fallback while Redis is unreachable)
    gateway  nextcord client + cogs; needs Redis (nobody else would consume a memory queue)
    worker   consumes Redis; needs no Discord token

SIGINT/SIGTERM: stop taking jobs, let in-flight ones finish within the grace period, close the gateway, flush XP.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from bot.config import Config, ConfigError, Role, mask_url
from bot.db.message_log import run_retention
from bot.jobclient import JobClient
from bot.ops.instrument import instrument_handlers, instrument_queue
from bot.ops.service import start_ops, stop_ops
from bot.worker import Worker, load_handlers
from queue_backends import get_task_queue
from queue_backends.base import QueueBackend
from queue_backends.memory import MemoryQueue

log = logging.getLogger(__name__)

EMBEDDED_WORKERS = 1  # one worker task with `worker_concurrency` slots is plenty on one box
BACKGROUND_GRACE = 5.0  # seconds the gateway's handed-off tasks get to finish at shutdown
SHUTDOWN_SLACK = 15.0  # on top of the grace periods, before the watchdog gives up on an orderly exit


class StartupError(Exception):
    """A problem that stops `bot run` before it starts, phrased as one line for the user."""

    exit_code = 2  # a configuration problem: fix it, do not restart in a loop


class GatewayStopped(StartupError):
    """The Discord connection ended with an error after start-up; `bot run` exits non-zero so that a supervisor
    (systemd `Restart=on-failure`, Docker) restarts it."""

    exit_code = 1


@dataclass
class Runtime:
    """Everything a running process owns; tests reach in through it."""

    config: Config
    role: Role
    queue: QueueBackend
    workers: list[Worker] = field(default_factory=list)
    jobs: JobClient | None = None
    bot: Any = None  # StewardBot when the role has a gateway
    db: Any = None  # AsyncEngine when the role has a gateway
    stopping: anyio.Event = field(default_factory=anyio.Event)
    started: anyio.Event = field(default_factory=anyio.Event)
    extras: dict[str, Any] = field(default_factory=dict)
    metrics_port: int | None = None  # where /metrics and /healthz listen (bot/ops/health.py); None when disabled

    def stop(self) -> None:
        self.stopping.set()


def check_role(config: Config, role: Role) -> None:
    """Refuse combinations that cannot work, before anything starts."""
    if role in ("all", "gateway") and not config.discord.token:
        raise StartupError(
            "no Discord token: set DISCORD_TOKEN, or [discord] token in config.toml "
            "(create a bot at https://discord.com/developers/applications). Try `bot console` to run offline."
        )
    if role == "gateway" and config.queue_backend != "redis":
        raise StartupError(
            "--role=gateway needs the Redis queue (set REDIS_URL): with the memory queue no worker would "
            "ever see its jobs. Use --role=all to run everything in one process."
        )
    if role == "worker" and config.queue_backend != "redis":
        raise StartupError("--role=worker consumes the Redis queue: set REDIS_URL")


async def serve(
    config: Config,
    role: Role,
    *,
    migrate: bool = True,
    on_started: Callable[[Runtime], Awaitable[None]] | None = None,
    handle_signals: bool = True,
) -> None:
    """Run until SIGINT/SIGTERM (or `runtime.stop()`), then shut down in order."""
    check_role(config, role)
    queue = instrument_queue(get_task_queue(config))  # job metrics at the queue boundary (bot/ops/instrument.py)
    runtime = Runtime(config=config, role=role, queue=queue)
    try:
        async with unwrap_startup_errors(), anyio.create_task_group() as tg:
            if handle_signals:
                tg.start_soon(_watch_signals, runtime)
            await _start(runtime, tg, migrate=migrate)
            runtime.started.set()
            if on_started is not None:
                await on_started(runtime)
            await runtime.stopping.wait()
            log.info("shutting down (%s)", role)
            if handle_signals:  # a real `bot run` process, not a bot embedded in tests or the console
                _exit_if_shutdown_hangs(config.queue.shutdown_grace + BACKGROUND_GRACE + SHUTDOWN_SLACK)
            await _shutdown(runtime)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _close(runtime)
    error = runtime.extras.get("gateway_error")
    if isinstance(error, StartupError):
        raise error


@contextlib.asynccontextmanager
async def unwrap_startup_errors() -> AsyncIterator[None]:
    """A StartupError raised inside the task group arrives wrapped in an ExceptionGroup; give the caller the
    one-line error itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        startup = group.subgroup(StartupError)
        if startup is None:
            raise
        while isinstance(startup, BaseExceptionGroup):
            startup = startup.exceptions[0]
        raise startup from None


async def _start(runtime: Runtime, tg: anyio.abc.TaskGroup, *, migrate: bool) -> None:
    config, role = runtime.config, runtime.role
    handlers = instrument_handlers(load_handlers())
    fallback: QueueBackend | None = None
    if role in ("all", "worker"):
        runtime.workers.append(Worker(runtime.queue, config, handlers=handlers))
        if role == "all" and runtime.queue.name == "redis":
            # Embedded workers on an in-process queue take over while Redis is unreachable.
            fallback = instrument_queue(MemoryQueue(default_result_ttl=config.queue.result_ttl))
            worker_id = f"{runtime.workers[0].worker_id}-local"
            runtime.workers.append(Worker(fallback, config, worker_id=worker_id, handlers=handlers))
        for worker in runtime.workers:
            tg.start_soon(worker.run)
    if role in ("all", "gateway"):
        runtime.jobs = JobClient(runtime.queue, config, tg, fallback=fallback)
        runtime.db = await _open_database(config, migrate=migrate)
        tg.start_soon(run_retention, runtime.db, config.database.message_retention_days)
        await _start_gateway(runtime, tg)
    await start_ops(runtime, tg)  # /metrics + /healthz, queue-depth gauge, started alert


async def _open_database(config: Config, *, migrate: bool) -> Any:
    from bot.db import migrate as db_migrate
    from bot.db.engine import DatabaseConfigError, check_connection, log_legacy_postgres_flag, make_engine

    log_legacy_postgres_flag()
    try:
        engine = make_engine(config.database_url)
        await check_connection(engine)
        if migrate:
            await db_migrate.upgrade(engine)
    except DatabaseConfigError as exc:
        raise StartupError(str(exc)) from None
    log.info("database: %s", mask_url(config.database_url))
    return engine


async def _start_gateway(runtime: Runtime, tg: anyio.abc.TaskGroup) -> None:
    from bot.gateway import build_bot
    from bot.services import Services

    assert runtime.jobs is not None
    services = Services(config=runtime.config, jobs=runtime.jobs, db=runtime.db)
    services.extras["task_group"] = tg
    try:
        bot = build_bot(runtime.config, services)
    except ConfigError as exc:
        raise StartupError(str(exc)) from None
    runtime.bot = bot

    async def run_gateway() -> None:
        import nextcord

        try:
            if await _login(bot, runtime):
                await bot.connect(reconnect=True)  # nextcord reconnects with backoff after a lost connection
        except nextcord.LoginFailure:
            runtime.extras["gateway_error"] = StartupError(
                "Discord refused the token: check DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)"
            )
            runtime.stop()
        except Exception as exc:  # PrivilegedIntentsRequired, ... : one line, then stop
            log.error("gateway stopped: %s", _one_line(exc))
            runtime.extras["gateway_error"] = GatewayStopped(f"the Discord connection failed: {_one_line(exc)}")
            runtime.stop()

    tg.start_soon(run_gateway)


LOGIN_RETRY_MAX_DELAY = 60.0


async def _login(bot: Any, runtime: Runtime) -> bool:
    """Log in, retrying with backoff while Discord is unreachable (a host booting before its network is up, an
    outage): the bot comes up by itself once Discord answers. False if asked to stop meanwhile."""
    import aiohttp
    import nextcord

    delay = 1.0
    while not runtime.stopping.is_set():
        try:
            await bot.login(runtime.config.discord.token)
            return True
        except (OSError, aiohttp.ClientError, TimeoutError, nextcord.DiscordServerError) as exc:
            log.warning("cannot reach Discord (%s); retrying in %.0f s", _one_line(exc), delay)
        await bot.http.close()  # login opens a fresh HTTP session; do not leak the failed one
        with anyio.move_on_after(delay):
            await runtime.stopping.wait()
        delay = min(delay * 2, LOGIN_RETRY_MAX_DELAY)
    return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


async def _shutdown(runtime: Runtime) -> None:
    with anyio.CancelScope(shield=True):
        if runtime.bot is not None:
            # Stop receiving events first, let handed-off work finish (a cancelled database write can leave a
            # connection that hangs the engine's close), then flush what the cogs hold in memory (XP deltas).
            await runtime.bot.close()
            left = await runtime.bot.wait_background(BACKGROUND_GRACE)
            if left:
                log.warning("%d background task(s) still running after %.0f s; cancelling them", left, BACKGROUND_GRACE)
            for hook in runtime.bot.services.extras.get("shutdown_hooks", []):
                try:
                    await hook()
                except Exception:
                    log.exception("shutdown hook failed")
        for worker in runtime.workers:
            worker.stop()
        with anyio.move_on_after(runtime.config.queue.shutdown_grace + 5):
            for worker in runtime.workers:
                await worker.finished.wait()


def _exit_if_shutdown_hangs(seconds: float) -> None:
    """A watchdog for the last resort: if the orderly shutdown has not ended the process after `seconds`, exit
    anyway (code 1). A database query cut off half-way can leave an aiosqlite future that never resolves, and asyncio
    then waits on it for ever; a process that stops by itself (a refused token) would hang instead of letting
    systemd or Docker restart it."""

    def hard_exit() -> None:
        log.error("shutdown did not finish within %.0f s; exiting without waiting any longer", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, hard_exit)
    timer.daemon = True  # a normal exit does not wait for it
    timer.start()


async def _close(runtime: Runtime) -> None:
    await stop_ops(runtime)  # stopped alert, then the health server goes away
    try:
        await runtime.queue.close()
    except Exception:
        log.debug("closing the queue failed", exc_info=True)
    if runtime.db is not None:
        await runtime.db.dispose()


async def _watch_signals(runtime: Runtime) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            runtime.stop()
            return


__all__ = ["ConfigError", "GatewayStopped", "Runtime", "StartupError", "check_role", "serve", "unwrap_startup_errors"]
