"""`/events config ...`: admins choose the welcome channel and text, the auto-role and the audit channel."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ext import commands

from cogs._admin import GUILD_ONLY, MANAGE_SERVER, require_admin
from cogs.events.settings import MAX_TEMPLATE_LENGTH, EventsSettings, EventsSettingsError, EventsStore

if TYPE_CHECKING:
    from bot.gateway import StewardBot

# Hidden from members without Manage Server by default; `_require_admin` re-checks because admins can override it.


def settings_lines(settings: EventsSettings) -> list[str]:
    def channel(value: int | None) -> str:
        return f"<#{value}>" if value is not None else "off"

    return [
        f"Welcome channel: {channel(settings.welcome_channel_id)}",
        f"Welcome message: {settings.welcome_template}",
        f"Auto-role: {f'<@&{settings.autorole_id}>' if settings.autorole_id is not None else 'off'}",
        f"Deleted-message audit channel: {channel(settings.audit_channel_id)}",
    ]


class EventsCommands(commands.Cog):
    def __init__(self, bot: StewardBot, store: EventsStore) -> None:
        self.bot = bot
        self.store = store

    @nextcord.slash_command(
        name="events",
        description="Community events setup.",
        default_member_permissions=MANAGE_SERVER,
        contexts=GUILD_ONLY,
    )
    async def events(self, interaction: nextcord.Interaction) -> None:
        pass

    @events.subcommand(name="config", description="Welcome, auto-role and audit settings.")
    async def config(self, interaction: nextcord.Interaction) -> None:
        pass

    @config.subcommand(name="show", description="Show the settings.")
    async def show(self, interaction: nextcord.Interaction) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        settings = await self.store.get(interaction.guild_id)
        embed = nextcord.Embed(title="Community events", description="\n".join(settings_lines(settings)))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @config.subcommand(name="welcome", description="Greet new members in a channel.")
    async def welcome(
        self,
        interaction: nextcord.Interaction,
        channel: nextcord.TextChannel | None = nextcord.SlashOption(
            description="Where to greet", required=False, default=None
        ),
        template: str | None = nextcord.SlashOption(
            description="Message; {user}, {server} and {member_count} are filled in",
            required=False,
            default=None,
            max_length=MAX_TEMPLATE_LENGTH,
        ),
        off: bool = nextcord.SlashOption(description="Turn welcomes off", required=False, default=False),
    ) -> None:
        changes: dict[str, Any] = {}
        if off:
            changes["welcome_channel_id"] = None
        elif channel is not None:
            changes["welcome_channel_id"] = channel.id
        if template is not None:
            changes["welcome_template"] = template
        await self._configure(interaction, changes)

    @config.subcommand(name="autorole", description="Give new members a role.")
    async def autorole(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role | None = nextcord.SlashOption(description="The role", required=False, default=None),
        off: bool = nextcord.SlashOption(description="Turn the auto-role off", required=False, default=False),
    ) -> None:
        if role is None and not off:
            await interaction.response.send_message("Name a role, or set off to True.", ephemeral=True)
            return
        if role is not None and not off and not role.is_assignable():
            await interaction.response.send_message(
                f"I cannot give {role.mention}: it must be a normal role below my own highest role.", ephemeral=True
            )
            return
        await self._configure(interaction, {"autorole_id": None if off or role is None else role.id})

    @config.subcommand(name="audit", description="Post deleted messages to a channel (moderators only, ideally).")
    async def audit(
        self,
        interaction: nextcord.Interaction,
        channel: nextcord.TextChannel | None = nextcord.SlashOption(
            description="The audit channel", required=False, default=None
        ),
        off: bool = nextcord.SlashOption(description="Turn the audit log off", required=False, default=False),
    ) -> None:
        if channel is None and not off:
            await interaction.response.send_message("Name a channel, or set off to True.", ephemeral=True)
            return
        await self._configure(interaction, {"audit_channel_id": None if off or channel is None else channel.id})

    async def _configure(self, interaction: nextcord.Interaction, changes: dict[str, Any]) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        change: Callable[[EventsSettings], EventsSettings] = lambda s: dataclasses.replace(s, **changes)  # noqa: E731
        try:
            settings = await self.store.update(interaction.guild_id, change)
        except EventsSettingsError as exc:
            await interaction.response.send_message(f"Not saved: {exc.key} {exc.problem}.", ephemeral=True)
            return
        embed = nextcord.Embed(title="Community events saved", description="\n".join(settings_lines(settings)))
        await interaction.response.send_message(embed=embed, ephemeral=True)
