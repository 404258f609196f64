"""`bot sync-commands` and `bot notify`, registered onto the main typer app by cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer

from bot.config import Config

Opt = typer.Option


def register(app: typer.Typer) -> None:
    app.command("sync-commands")(sync_commands_cmd)
    app.command("notify")(notify_cmd)


def _load(config: Path | None) -> Config:
    from cli import _load as load  # the one-line ConfigError shape every command shares

    return load(config)


def sync_commands_cmd(
    guild: Annotated[
        int | None, Opt("--guild", help="Register every command in this guild only (instant; for testing).")
    ] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Show what would change; send nothing.")] = False,
    config: Annotated[Path | None, Opt("--config", "-c", envvar="STEWARD_CONFIG", show_default=False)] = None,
) -> None:
    """Register the configured cogs' slash commands over REST (no gateway) and print what changed."""
    from bot.discord_api import use_api_base
    from bot.ops.sync import SyncError, report_lines, sync_commands
    from cli import fail

    cfg = _load(config)
    if not cfg.discord.token:
        fail("no Discord token: set DISCORD_TOKEN (or [discord] token in config.toml)")
    use_api_base(cfg.discord.api_base)
    try:
        plans = anyio.run(lambda: sync_commands(cfg, guild=guild, dry_run=dry_run))
    except SyncError as exc:
        fail(str(exc), 1)
    for line in report_lines(plans, dry_run=dry_run):
        typer.echo(line)


def notify_cmd(
    event: Annotated[str, Opt("--event", "-e", help="What happened: deploy, ci, release, ...")],
    status: Annotated[str, Opt("--status", "-s", help="success, failure, running, cancelled, or anything else.")],
    summary: Annotated[str, Opt(help="One or two sentences for the embed body.")] = "",
    ref: Annotated[str, Opt(help="Branch or tag.")] = "",
    commit: Annotated[str, Opt(help="Commit SHA (shown shortened).")] = "",
    actor: Annotated[str, Opt(help="Who triggered it.")] = "",
    url: Annotated[str, Opt(help="Link for the embed title (CI run, release page).")] = "",
    component: Annotated[str, Opt(help="Which part: gateway, worker, docs, ...")] = "",
    config: Annotated[Path | None, Opt("--config", "-c", envvar="STEWARD_CONFIG", show_default=False)] = None,
) -> None:
    """Post a coloured status embed to STATUS_WEBHOOK (deploys, CI). A deleted webhook (404) only warns."""
    from bot.ops.notify import NotifyError, StatusEvent, notify
    from cli import fail

    cfg = _load(config)
    if not cfg.notify.status_webhook:
        fail("no status webhook: set STATUS_WEBHOOK (or [notify] status_webhook in config.toml)")
    ev = StatusEvent(event, status, summary, ref, commit, actor, url, component)
    try:
        delivered = anyio.run(notify, cfg.notify.status_webhook, ev)
    except NotifyError as exc:
        fail(str(exc), 1)
    if delivered:
        typer.echo(f"notified: {event} {status}")
    else:
        typer.echo("warning: the status webhook no longer exists (HTTP 404); nothing was posted", err=True)
