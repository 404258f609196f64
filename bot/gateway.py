"""The nextcord client: loads the configured cogs and runs every guild message through one ordered pipeline.

Cogs do not each listen to `on_message` on their own: the order matters (anti-spam decides first, and spam earns
no XP and never reaches the LLM), so each cog registers a stage with a priority and the gateway calls them in turn.
Stages must be quick; anything slow goes through `bot.jobs_client.submit()`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import nextcord
from nextcord.ext import commands

from bot.config import Config, ConfigError
from bot.discord_api import use_api_base

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Stage priorities: lower runs first.
STAGE_ANTISPAM = 0
STAGE_SAFETY = 10
STAGE_LEVELING = 20
STAGE_LLM = 30


@dataclass
class MessageContext:
    """What earlier stages decided about a message, for the later ones."""

    is_spam: bool = False
    deleted: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


Stage = Callable[[nextcord.Message, MessageContext], Awaitable[None]]


class StewardBot(commands.Bot):
    # nextcord's Bot/AutoShardedBot __init__ call their client's __init__ by name, not through super(): the
    # sharded subclass swaps the base whose __init__ runs, keeping one StewardBot for both.
    _gateway_base: type[commands.Bot] | type[commands.AutoShardedBot] = commands.Bot

    def __init__(self, config: Config, services: Services, **kwargs: Any) -> None:
        intents = nextcord.Intents.default()
        intents.message_content = config.discord.message_content_intent
        intents.members = config.discord.members_intent
        use_api_base(config.discord.api_base)
        sync = config.discord.sync_commands_on_start
        self._gateway_base.__init__(
            self,  # type: ignore[arg-type]
            intents=intents,
            help_command=None,
            default_guild_ids=config.discord.command_guild_ids or None,
            # Never mass-ping by default; a feature that must ping a user says so per message.
            allowed_mentions=nextcord.AllowedMentions.none(),
            # Registering commands on every restart runs into Discord's rate limits: only when asked.
            rollout_register_new=sync,
            rollout_update_known=sync,
            rollout_delete_unknown=sync,
            chunk_guilds_at_startup=False,
            guild_ready_timeout=config.discord.guild_ready_timeout,
            **kwargs,
        )
        self.config = config
        self.services = services
        self._stages: list[tuple[int, str, Stage]] = []
        self.ready_event_seen = False
        self._background_running = 0
        self._background_idle = anyio.Event()
        self._background_idle.set()

    def background(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run `fn(*args)` off the message path, in the runner's task group, so that shutdown can wait for it.

        What stages and listeners hand off (moderation actions, level-up side effects, LLM replies, safety scans)
        goes through here: an error is logged instead of cancelling the task group, and the runner gives running
        tasks a grace period (`wait_background`) before it cancels them and closes the database under them.
        """

        async def guarded() -> None:
            self._background_running += 1
            if self._background_running == 1:
                self._background_idle = anyio.Event()
            try:
                await fn(*args)
            except Exception:  # an escaping error would cancel the runner's whole task group
                log.exception("background task %s failed", getattr(fn, "__qualname__", fn))
            finally:
                self._background_running -= 1
                if self._background_running == 0:
                    self._background_idle.set()

        task_group = self.services.extras.get("task_group")
        if task_group is not None:
            task_group.start_soon(guarded)
        else:  # a bot built outside the runner (a script or REPL)
            self.loop.create_task(guarded())

    async def wait_background(self, timeout: float) -> int:
        """Wait up to `timeout` s for background tasks to finish; returns how many are still running."""
        with anyio.move_on_after(timeout):
            await self._background_idle.wait()
        return self._background_running

    def add_message_stage(self, priority: int, name: str, stage: Stage) -> None:
        self._stages.append((priority, name, stage))
        self._stages.sort(key=lambda s: s[0])

    def remove_message_stage(self, name: str) -> None:
        self._stages = [s for s in self._stages if s[1] != name]

    async def on_ready(self) -> None:
        first = not self.ready_event_seen
        self.ready_event_seen = True
        log.info(
            "gateway connected as %s (%s) in %d guild(s)", self.user, getattr(self.user, "id", "?"), len(self.guilds)
        )
        if first and not self.config.discord.sync_commands_on_start:
            await self._register_commands_if_none()

    async def _register_commands_if_none(self) -> None:
        from bot.ops.sync import register_on_first_start

        try:
            count = await register_on_first_start(self)
        except nextcord.HTTPException as exc:
            log.warning("could not check the registered slash commands (HTTP %s); run `bot sync-commands`", exc.status)
            return
        if count:
            log.info("first start: registered %d slash command(s); after upgrades run `bot sync-commands`", count)

    async def on_message(self, message: nextcord.Message) -> None:
        if self.user is not None and message.author.id == self.user.id:
            return
        self.services.metrics_message_seen()
        ctx = MessageContext()
        for _, name, stage in self._stages:
            try:
                await stage(message, ctx)
            except Exception:  # one broken feature must not stop the others
                log.exception("message stage %s failed on message %s", name, message.id)
            if ctx.deleted:
                break

    async def on_application_command_error(self, interaction: nextcord.Interaction, error: Exception) -> None:
        log.error("slash command failed: %s", error, exc_info=error)
        text = "Something went wrong running that command; the details are in the bot's log."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except nextcord.HTTPException:
            pass


def available_cogs() -> list[str]:
    import cogs

    return sorted(p.name for p in Path(cogs.__file__).parent.iterdir() if (p / "__init__.py").is_file())


class ShardedStewardBot(StewardBot, commands.AutoShardedBot):
    """StewardBot running the shards in `discord.shard_ids` of `discord.shard_count` (bot/ops/sharding.py)."""

    _gateway_base = commands.AutoShardedBot


def build_bot(config: Config, services: Services) -> StewardBot:
    from bot.ops.sharding import shard_kwargs

    shards = shard_kwargs(config.discord)
    bot = StewardBot(config, services) if shards is None else ShardedStewardBot(config, services, **shards)
    for name in config.discord.cogs:
        try:
            bot.load_extension(f"cogs.{name}")
        except commands.ExtensionNotFound:
            raise ConfigError(
                f"discord.cogs: no cog named {name!r} (available: {', '.join(available_cogs())})"
            ) from None
    return bot
