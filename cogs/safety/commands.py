"""`/safety config show|set` and `/safety test <text>` (try the guild's scanner and see what it would do).

Hidden from members without Manage Server by default; every subcommand checks again because admins can override
that in Discord. Replies are ephemeral and ping nobody.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import nextcord
from nextcord import SlashOption
from nextcord.ext import commands

from bot.safety.gate import action_for
from bot.safety.settings import SafetyGuildSettings
from cogs._admin import MANAGE_SERVER, NO_PINGS, reply, require_admin
from cogs._settings import change_setting
from cogs.safety._report import planned_text
from cogs.safety.events import SafetyEvents, ScanFailed
from cogs.safety.settings import SafetyStore, shown

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

MAX_TEST_TEXT = 2000


def describe(settings: SafetyGuildSettings) -> str:
    values = settings.to_dict()
    audit = f"<#{settings.audit_channel_id}>" if settings.audit_channel_id else "none (actions still apply)"
    actions = shown(values["category_actions"])
    lines = [
        "**Safety scans**" + (" (dry run: reports only)" if settings.dry_run else ""),
        f"enabled: {shown(settings.enabled)} · scanner: {settings.scanner} · dry_run: {shown(settings.dry_run)}",
        f"default_action: {settings.default_action} · category_actions: {actions} · "
        f"timeout_seconds: {settings.timeout_seconds}",
        f"audit channel: {audit}",
        f"min_length: {settings.min_length} · dedupe_seconds: {settings.dedupe_seconds:g}",
        f"exempt roles: {' '.join(f'<@&{i}>' for i in values['exempt_role_ids']) or 'none'} · "
        f"exempt channels: {' '.join(f'<#{i}>' for i in values['exempt_channel_ids']) or 'none'}",
        f"words: {shown(values['words'])} · patterns: {shown(values['patterns'])} · "
        f"use_default_words: {shown(settings.use_default_words)}",
        f"scam_domains: {shown(values['scam_domains'])} · flag_invites: {shown(settings.flag_invites)} · "
        f"allowed_invites: {shown(values['allowed_invites'])}",
        f"thresholds (openai): {shown(values['thresholds'])}",
        "Change one with `/safety config set <setting> <value>`; try the scanner with `/safety test`.",
    ]
    return "\n".join(lines)


class SafetyCommands(commands.Cog):
    def __init__(self, bot: StewardBot, store: SafetyStore, events: SafetyEvents) -> None:
        self.bot = bot
        self.store = store
        self.events = events

    @nextcord.slash_command(
        name="safety",
        description="Safety scans: settings and a test.",
        default_member_permissions=MANAGE_SERVER,
        contexts=[nextcord.InteractionContextType.guild],
    )
    async def safety(self, interaction: nextcord.Interaction) -> None:
        pass

    @safety.subcommand(name="config", description="Safety scan settings.")
    async def config(self, interaction: nextcord.Interaction) -> None:
        pass

    @config.subcommand(name="show", description="Show this server's safety settings.")
    async def show(self, interaction: nextcord.Interaction) -> None:
        if not await require_admin(interaction):
            return
        await reply(interaction, describe(await self.store.get(interaction.guild_id)))  # type: ignore[arg-type]

    @config.subcommand(name="set", description="Change one setting (enabled, scanner, actions, audit channel, ...).")
    async def set_(
        self,
        interaction: nextcord.Interaction,
        setting: str = SlashOption(description="e.g. enabled, scanner, default_action, category_actions, dry_run"),
        value: str = SlashOption(description="on/off, a word, a number, a #channel, or name=value pairs"),
    ) -> None:
        if not await require_admin(interaction):
            return
        await change_setting(interaction, self.store, setting, value, "Safety")

    @safety.subcommand(name="test", description="Scan a text with this server's scanner and see what would happen.")
    async def test(
        self,
        interaction: nextcord.Interaction,
        text: str = SlashOption(description="The text to scan", max_length=MAX_TEST_TEXT),
    ) -> None:
        if not await require_admin(interaction):
            return
        settings = await self.store.get(interaction.guild_id)  # type: ignore[arg-type]
        # A remote scanner may take longer than the 3 s Discord gives for an answer.
        await interaction.response.defer(ephemeral=True)
        try:
            verdict = await self.events.scan(text, settings, guild_id=interaction.guild_id, user_id=interaction.user.id)  # type: ignore[union-attr]
        except ScanFailed as exc:
            answer = f"The {settings.scanner} scanner failed: {exc}"
        else:
            if verdict.unsafe:
                plan = action_for(verdict, settings)
                answer = (
                    f"**unsafe** ({verdict.scanner}): {', '.join(verdict.categories)}. "
                    f"On a real message I would have {planned_text(plan)}"
                    + (" — but only in a report, since dry run is on." if settings.dry_run else ".")
                    + ("" if settings.enabled else " (Scans are off on this server: `enabled` is off.)")
                )
            else:
                answer = f"**safe** ({verdict.scanner}): nothing to do."
        await interaction.followup.send(answer[:2000], ephemeral=True, allowed_mentions=NO_PINGS)
