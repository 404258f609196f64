"""`bot sync-commands`: register the configured cogs' slash commands over REST, without a gateway connection.

The cogs are loaded into a StewardBot that is never started; nextcord computes the payloads it would register and
judges "same as Discord's" with its own `is_payload_valid`, so this agrees with what a syncing gateway would do.
Each scope (global, or a guild) is applied with one bulk overwrite, which also removes commands no cog defines.
Scopes: without --guild, global plus every guild in `discord.command_guild_ids`; with --guild ID, every command of
the cogs registered in that guild only (the quick test-server loop: guild commands update instantly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Config


@dataclass
class ScopePlan:
    guild_id: int | None
    payloads: list[dict[str, Any]]  # what the bulk overwrite sends
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def label(self) -> str:
        return "global" if self.guild_id is None else f"guild {self.guild_id}"


class SyncError(Exception):
    """One line for the user: bad token, a cog that does not load, Discord refusing the overwrite."""


def _key(payload: dict[str, Any]) -> tuple[str, int]:
    return str(payload["name"]), int(payload.get("type", 1))


def _describe(key: tuple[str, int]) -> str:
    name, type_ = key
    return f"/{name}" if type_ == 1 else f"{name} ({'user' if type_ == 2 else 'message'} menu)"


def plan_scope(commands: list[Any], remote: list[dict[str, Any]], guild_id: int | None) -> ScopePlan:
    """Compare nextcord command objects with what Discord has in one scope."""
    local = {}
    for cmd in commands:
        payload = cmd.get_payload(guild_id)
        payload.pop("guild_id", None)  # the URL says which guild; keep the body what Discord returns
        local[_key(payload)] = (cmd, payload)
    remote_by_key = {_key(r): r for r in remote}
    plan = ScopePlan(guild_id, [p for _, p in local.values()])
    for key, (cmd, _payload) in sorted(local.items()):
        raw = remote_by_key.get(key)
        if raw is None:
            plan.added.append(_describe(key))
        elif cmd.is_payload_valid(raw, guild_id):
            plan.unchanged.append(_describe(key))
        else:
            plan.changed.append(_describe(key))
    plan.removed = [_describe(k) for k in sorted(remote_by_key) if k not in local]
    return plan


def local_scopes(bot: Any, guild: int | None, configured_guilds: list[int]) -> dict[int | None, list[Any]]:
    """Scope -> the command objects that belong there."""
    bot.add_all_application_commands()
    commands = list(bot.get_all_application_commands())
    if guild is not None:
        return {guild: commands}
    scopes: dict[int | None, list[Any]] = {None: [c for c in commands if c.is_global]}
    for gid in configured_guilds:
        scopes[gid] = []
    for cmd in commands:
        for gid in getattr(cmd, "guild_ids_to_rollout", ()):
            scopes.setdefault(gid, []).append(cmd)
    return scopes


async def sync_commands(config: Config, *, guild: int | None = None, dry_run: bool = False) -> list[ScopePlan]:
    """Log in over REST, plan every scope, apply the ones with changes (unless dry_run); returns the plans."""
    import nextcord

    from bot.db.engine import make_engine
    from bot.gateway import build_bot
    from bot.services import Services

    # Cogs that keep state need an engine to load; it is never connected here (SQLAlchemy connects on first use),
    # so sync works before the database exists or is reachable.
    db = make_engine(config.database_url, create_dirs=False)
    services = Services(config=config, jobs=None, db=db)  # type: ignore[arg-type]  # never started
    try:
        bot = build_bot(config, services)
    except Exception as exc:  # ExtensionNotFound / ExtensionFailed: name the cog, not a traceback
        await db.dispose()
        raise SyncError(f"could not load the cogs: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    try:
        try:
            await bot.login(config.discord.token)
            app_id = (await bot.application_info()).id
        except nextcord.LoginFailure:
            raise SyncError("Discord refused the token (check DISCORD_TOKEN)") from None
        plans = []
        for gid, commands in local_scopes(bot, guild, config.discord.command_guild_ids).items():
            try:
                if gid is None:
                    remote = await bot.http.get_global_commands(app_id)
                else:
                    remote = await bot.http.get_guild_commands(app_id, gid)
                plan = plan_scope(commands, list(remote), gid)
                if plan.has_changes and not dry_run:
                    if gid is None:
                        await bot.http.bulk_upsert_global_commands(app_id, plan.payloads)
                    else:
                        await bot.http.bulk_upsert_guild_commands(app_id, gid, plan.payloads)
            except nextcord.HTTPException as exc:
                where = "global commands" if gid is None else f"guild {gid}"
                raise SyncError(f"Discord refused {where}: HTTP {exc.status} {exc.text[:200]}") from None
            plans.append(plan)
        return plans
    finally:
        await bot.close()
        await db.dispose()


def report_lines(plans: list[ScopePlan], *, dry_run: bool) -> list[str]:
    lines: list[str] = []
    for plan in plans:
        if not plan.has_changes:
            lines.append(f"{plan.label}: nothing to change ({len(plan.unchanged)} command(s) up to date)")
            continue
        verb = "would sync" if dry_run else "synced"
        lines.append(f"{plan.label}: {verb}")
        lines += [f"  + added   {n}" for n in plan.added]
        lines += [f"  ~ changed {n}" for n in plan.changed]
        lines += [f"  - removed {n}" for n in plan.removed]
    if not any(p.has_changes for p in plans):
        lines.append("nothing to change")
    elif dry_run:
        lines.append("dry run: nothing was sent to Discord")
    return lines


async def register_on_first_start(bot: Any) -> int:
    """A fresh install has no commands registered, and syncing at every start is off: register the global commands
    once, so the bot works after `bot run` alone. Returns how many were registered (0 when Discord already has some;
    later changes are `bot sync-commands`' job). One GET per start, one PUT on the very first."""
    app_id = bot.application_id
    if await bot.http.get_global_commands(app_id):
        return 0
    commands = [c for c in bot.get_all_application_commands() if c.is_global]
    if not commands:
        return 0
    plan = plan_scope(commands, [], None)
    await bot.http.bulk_upsert_global_commands(app_id, plan.payloads)
    return len(plan.payloads)
