"""`/llm config ...` (triggers, chat channels, allow/block lists, quotas, error mode) and `/llm usage [member]`.

`default_member_permissions` hides the command from members without Manage Server, but admins can override that
in Discord, so every subcommand checks again. Replies are ephemeral and ping nobody.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import nextcord
from nextcord import SlashOption
from nextcord.ext import commands

from bot.db.llm_usage import get_llm_usage
from bot.llm.quota import usage_day
from bot.llm.settings import LLMGuildSettings
from cogs._admin import MANAGE_SERVER, reply, require_admin
from cogs._settings import GuildSettingsStore, change_setting, shown

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

LISTS = {
    "chat_channels": "chat_channel_ids",
    "allowed_users": "allowed_user_ids",
    "blocked_users": "blocked_user_ids",
    "allowed_roles": "allowed_role_ids",
    "blocked_roles": "blocked_role_ids",
    "allowed_channels": "allowed_channel_ids",
    "blocked_channels": "blocked_channel_ids",
}


def describe(settings: LLMGuildSettings, *, endpoint: bool) -> str:
    values = settings.to_dict()

    def ids(key: str, fmt: str) -> str:
        return " ".join(fmt.format(i) for i in values[key]) or "none"

    lines = [
        "**LLM replies**" + ("" if endpoint else " (no endpoint configured: replies are off on this bot)"),
        f"enabled: {shown(settings.enabled)} · reply_on_mention: {shown(settings.reply_on_mention)} · "
        f"reply_on_reply: {shown(settings.reply_on_reply)} · active_chat: {shown(settings.active_chat)}",
        f"chat channels: {ids('chat_channel_ids', '<#{}>')}",
        f"allowed users: {ids('allowed_user_ids', '<@{}>')} · blocked users: {ids('blocked_user_ids', '<@{}>')}",
        f"allowed roles: {ids('allowed_role_ids', '<@&{}>')} · blocked roles: {ids('blocked_role_ids', '<@&{}>')}",
        f"allowed channels: {ids('allowed_channel_ids', '<#{}>')} · "
        f"blocked channels: {ids('blocked_channel_ids', '<#{}>')}",
        f"per day: user {settings.user_requests_per_day} requests / {settings.user_tokens_per_day} tokens, "
        f"server {settings.guild_requests_per_day} requests / {settings.guild_tokens_per_day} tokens (0 = no limit)",
        f"user_cooldown: {settings.user_cooldown:g}s · error_mode: {settings.error_mode}",
        f"instructions: {settings.instructions or '(none)'}",
        "Change one with `/llm config set <setting> <value>`, lists with `/llm config list`.",
    ]
    return "\n".join(lines)


class LLMCommands(commands.Cog):
    def __init__(self, bot: StewardBot, store: GuildSettingsStore[LLMGuildSettings]) -> None:
        self.bot = bot
        self.store = store

    @nextcord.slash_command(
        name="llm",
        description="AI replies: settings and usage.",
        default_member_permissions=MANAGE_SERVER,
        contexts=[nextcord.InteractionContextType.guild],
    )
    async def llm(self, interaction: nextcord.Interaction) -> None:
        pass

    @llm.subcommand(name="config", description="AI reply settings.")
    async def config(self, interaction: nextcord.Interaction) -> None:
        pass

    @config.subcommand(name="show", description="Show this server's AI reply settings.")
    async def show(self, interaction: nextcord.Interaction) -> None:
        if not await require_admin(interaction):
            return
        settings = await self.store.get(interaction.guild_id)  # type: ignore[arg-type]
        await reply(interaction, describe(settings, endpoint=bool(self.bot.config.llm.base_url)))

    @config.subcommand(name="set", description="Change one setting (trigger, quota, error mode, ...).")
    async def set_(
        self,
        interaction: nextcord.Interaction,
        setting: str = SlashOption(description="e.g. user_requests_per_day, reply_on_mention, error_mode"),
        value: str = SlashOption(description="on/off, a number, a word, or a comma-separated list"),
    ) -> None:
        if not await require_admin(interaction):
            return
        await change_setting(interaction, self.store, setting, value, "AI replies")

    @config.subcommand(name="list", description="Add to, remove from or clear a chat-channel or allow/block list.")
    async def list_(
        self,
        interaction: nextcord.Interaction,
        name: str = SlashOption(description="Which list", choices=list(LISTS)),
        action: str = SlashOption(description="What to do", choices=["add", "remove", "clear"]),
        user: nextcord.Member | None = SlashOption(description="A member", required=False),
        role: nextcord.Role | None = SlashOption(description="A role", required=False),
        channel: nextcord.abc.GuildChannel | None = SlashOption(description="A channel", required=False),
    ) -> None:
        if not await require_admin(interaction):
            return
        field = LISTS[name]
        target = user if field.endswith("user_ids") else role if field.endswith("role_ids") else channel
        if action != "clear" and target is None:
            kind = "member" if field.endswith("user_ids") else "role" if field.endswith("role_ids") else "channel"
            await reply(interaction, f"Name a {kind} to {action}.")
            return

        def change(s: LLMGuildSettings) -> LLMGuildSettings:
            current: frozenset[int] = getattr(s, field)
            if action == "clear":
                new: frozenset[int] = frozenset()
            elif action == "add":
                new = current | {target.id}  # type: ignore[union-attr]
            else:
                new = current - {target.id}  # type: ignore[union-attr]
            return dataclasses.replace(s, **{field: new})

        updated = await self.store.update(interaction.guild_id, change)  # type: ignore[arg-type]
        await reply(interaction, describe(updated, endpoint=bool(self.bot.config.llm.base_url)))

    @llm.subcommand(name="usage", description="Today's AI usage of the server, or of one member.")
    async def usage(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member | None = SlashOption(description="A member", required=False),
    ) -> None:
        if not await require_admin(interaction):
            return
        engine = self.bot.services.db
        if engine is None:
            await reply(interaction, "Usage is not recorded: this bot has no database.")
            return
        guild_id: int = interaction.guild_id  # type: ignore[assignment]
        settings = await self.store.get(guild_id)
        day = usage_day(time.time())
        server = await get_llm_usage(engine, guild_id, day)
        lines = [
            f"Today ({day.isoformat()}, UTC): the server used {server.requests} request(s) and {server.tokens} "
            f"token(s) of {_limit(settings.guild_requests_per_day)} / {_limit(settings.guild_tokens_per_day)}."
        ]
        if member is not None:
            mine = await get_llm_usage(engine, guild_id, day, member.id)
            lines.append(
                f"<@{member.id}>: {mine.requests} request(s) and {mine.tokens} token(s) of "
                f"{_limit(settings.user_requests_per_day)} / {_limit(settings.user_tokens_per_day)}."
            )
        await reply(interaction, "\n".join(lines))


def _limit(value: int) -> str:
    return str(value) if value else "no limit"
