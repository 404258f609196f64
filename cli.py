"""The `bot` command: run a role, check the config, talk to the queue, manage the database."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import anyio
import typer

from bot.config import Config, ConfigError, as_dict, load_config

app = typer.Typer(
    help="Steward, a self-hosted Discord bot: gateway -> queue -> workers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)
queue_app = typer.Typer(
    help="Talk to the job queue: ping workers, show depths, manage dead letters.", no_args_is_help=True
)
dead_app = typer.Typer(help="Dead-lettered tasks: list, show, requeue, purge.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(queue_app, name="queue")
queue_app.add_typer(dead_app, name="dead")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: ./config.toml when present).",
        envvar="STEWARD_CONFIG",
        show_default=False,
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """One readable line on stderr and a non-zero exit: the shape of every user-facing error here."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _load(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc))


@app.command()
def run(
    role: Annotated[str, typer.Option(help="all: gateway + embedded workers; gateway; worker.")] = "all",
    config: ConfigOption = None,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not apply pending migrations.")] = False,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING (default from config).")] = None,
    shard_ids: Annotated[
        str | None, typer.Option(help="Gateway shards this process runs, e.g. 0,1 or 0-3 (docs/scaling.md).")
    ] = None,
    shard_count: Annotated[int | None, typer.Option(help="Total shards across all gateway processes.")] = None,
) -> None:
    """Run the bot. `--role=all` (default) runs everything in one process on SQLite and an in-process queue."""
    from bot.logs import setup_logging
    from bot.runner import StartupError, serve

    if role not in ("all", "gateway", "worker"):
        fail(f"--role must be all, gateway or worker, not {role!r}")
    cfg = _load(config)
    _apply_shard_options(cfg, shard_ids, shard_count)
    setup_logging(cfg, log_level)
    _use_uvloop_policy()
    try:
        anyio.run(lambda: serve(cfg, role, migrate=not no_migrate))  # type: ignore[arg-type]
    except StartupError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        pass


def _apply_shard_options(cfg: Config, shard_ids: str | None, shard_count: int | None) -> None:
    from bot.ops.sharding import parse_shard_ids, shard_kwargs

    try:
        if shard_ids is not None:
            cfg.discord.shard_ids = parse_shard_ids(shard_ids)
        if shard_count is not None:
            cfg.discord.shard_count = shard_count
        shard_kwargs(cfg.discord)  # validate now: one line, before anything starts
    except ConfigError as exc:
        fail(str(exc))


def _use_uvloop_policy() -> None:
    try:
        import uvloop
    except ImportError:
        return
    import asyncio

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@config_app.command("check")
def config_check(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON instead of TOML-like text.")] = False,
) -> None:
    """Validate the configuration and print the effective values, secrets masked."""
    cfg = _load(config)
    data = as_dict(cfg)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    source = str(config) if config else ("config.toml" if Path("config.toml").is_file() else "defaults + environment")
    typer.echo(f"# effective configuration ({source}); secrets shown as ***")
    for section, values in data.items():
        typer.echo(f"\n[{section}]")
        for key, value in values.items():
            typer.echo(f"{key} = {json.dumps(value)}")
    typer.echo(f"\n# queue backend: {cfg.queue_backend}; database: {_masked_db(cfg)}")


def _masked_db(cfg: Config) -> str:
    from bot.config import mask_url

    return mask_url(cfg.database_url)


def _queue(cfg: Config) -> Any:
    from queue_backends import get_task_queue

    if cfg.queue_backend != "redis":
        fail("the queue commands talk to Redis: set REDIS_URL (the memory queue lives inside `bot run`)")
    return get_task_queue(cfg)


async def _with_queue(cfg: Config, body: Any) -> Any:
    from queue_backends.base import QueueUnavailable
    from queue_backends.redis import REDIS_DOWN

    queue = _queue(cfg)
    try:
        return await body(queue)
    except (QueueUnavailable, *REDIS_DOWN) as exc:
        from bot.config import mask_url

        fail(f"cannot reach Redis at {mask_url(cfg.queue.redis_url)} ({type(exc).__name__})")
    finally:
        await queue.close()


@queue_app.command("ping")
def queue_ping(
    config: ConfigOption = None,
    count: Annotated[int, typer.Option(help="How many ping jobs to send.")] = 5,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 5.0,
) -> None:
    """Send ping jobs and report which workers answered and how fast."""
    cfg = _load(config)

    async def body(queue: Any) -> None:
        from bot.jobs import JobTimeout

        times: list[float] = []
        for i in range(count):
            t0 = time.perf_counter()
            task = await queue.enqueue("ping", {"sent_at": time.time()}, requested_by="cli")
            try:
                result = await queue.wait_for_result(task.job_id, timeout)
            except JobTimeout:
                fail(f"no worker answered ping {i + 1} within {timeout:g}s: is `bot run --role=worker` running?", 1)
            rtt = time.perf_counter() - t0
            times.append(rtt)
            if result.get("status") != "ok":
                fail(f"ping failed: {result.get('error')}", 1)
            typer.echo(f"ping {i + 1}: {rtt * 1000:.2f} ms from worker {result['worker_id']}")
        typer.echo(f"round trip: median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")

    anyio.run(_with_queue, cfg, body)


@queue_app.command("stats")
def queue_stats(config: ConfigOption = None) -> None:
    """Depths of the tasks, processing and dead lists, and the live workers."""
    cfg = _load(config)

    async def body(queue: Any) -> None:
        s = await queue.stats()
        typer.echo(f"namespace {cfg.queue.namespace}: {s.tasks} waiting, {s.processing} in processing, {s.dead} dead")
        now = time.time()
        for wid, info in sorted(s.workers.items()):
            if info.get("alive"):
                up_minutes = max(now - float(info.get("started") or now), 1.0) / 60
                typer.echo(
                    f"  worker {wid}: alive, last heartbeat {now - info['last_seen']:.1f}s ago, "
                    f"{info.get('processed', 0)} jobs ({info.get('processed', 0) / up_minutes:.1f}/min since start), "
                    f"{info.get('in_flight', 0)} in flight"
                )
            else:
                typer.echo(f"  worker {wid}: no heartbeat (its tasks are returned to the queue by the reaper)")
        if not s.workers:
            typer.echo("  no workers registered")

    anyio.run(_with_queue, cfg, body)


@dead_app.command("list")
def dead_list(config: ConfigOption = None, limit: int = 50) -> None:
    """One line per dead-lettered task: job id, type and reason."""
    cfg = _load(config)

    async def body(queue: Any) -> None:
        entries = await queue.dead_list(0, limit)
        for i, e in enumerate(entries):
            typer.echo(f"{i}\t{e.get('job_id') or '-'}\t{e.get('job_type') or '-'}\t{e.get('reason')}")
        typer.echo(f"{len(entries)} dead task(s) shown")

    anyio.run(_with_queue, cfg, body)


@dead_app.command("show")
def dead_show(index: int, config: ConfigOption = None) -> None:
    """The full dead-letter entry at INDEX (from `bot queue dead list`)."""
    cfg = _load(config)

    async def body(queue: Any) -> None:
        entries = await queue.dead_list(index, 1)
        if not entries:
            fail(f"no dead task at index {index}", 1)
        typer.echo(json.dumps(entries[0], indent=2))

    anyio.run(_with_queue, cfg, body)


@dead_app.command("requeue")
def dead_requeue(
    job_id: Annotated[str | None, typer.Argument(help="Requeue only this job (default: all).")] = None,
    config: ConfigOption = None,
) -> None:
    """Put dead tasks back on the queue (attempt counts reset)."""
    cfg = _load(config)

    async def body(queue: Any) -> None:
        typer.echo(f"requeued {await queue.dead_requeue(job_id)} task(s)")

    anyio.run(_with_queue, cfg, body)


@dead_app.command("purge")
def dead_purge(
    config: ConfigOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete every dead-lettered task."""
    cfg = _load(config)
    if not yes and sys.stdin.isatty() and not typer.confirm("Delete all dead tasks?"):
        raise typer.Exit(1)

    async def body(queue: Any) -> None:
        typer.echo(f"purged {await queue.dead_purge()} task(s)")

    anyio.run(_with_queue, cfg, body)


@app.command()
def console(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="Log level for the bot's own log lines.")] = "WARNING",
) -> None:
    """Try the whole bot offline: an emulated Discord server and a terminal chat (no account needed)."""
    from bot.console import main
    from bot.logs import setup_logging

    cfg = _load(config)
    setup_logging(cfg, log_level)
    main(cfg)


# Sub-commands that live beside their feature; they register onto `app`, defined above.
from bot.db.cli import db_app  # noqa: E402
from bot.ops.cli import register as _register_ops  # noqa: E402

app.add_typer(db_app, name="db", help="Database migrations and copying between SQLite and PostgreSQL.")
_register_ops(app)

if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
