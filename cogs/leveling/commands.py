"""Leveling slash commands: /rank, /leaderboard, admin /xp give|remove|set and /levels reward|sync|config."""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import nextcord
from nextcord.ext import commands

from bot.leveling import (
    ANNOUNCE_MODES,
    REWARD_MODES,
    LevelingSettings,
    LevelingSettingsError,
    level_for_xp,
    progress,
)
from bot.rankcard import render_rank_card
from cogs._admin import GUILD_ONLY, MANAGE_SERVER, require_admin
from cogs.leveling._discord import fetch_avatar, sync_reward_roles
from cogs.leveling._format import PER_PAGE, leaderboard_lines, rewards_lines, settings_lines
from cogs.leveling._service import MAX_ADMIN_XP, AdminOp, LevelingService

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

MAX_LEVEL = 1000


class LevelingCommands(commands.Cog):
    def __init__(self, bot: StewardBot, service: LevelingService) -> None:
        self.bot = bot
        self.service = service

    # --- everyone -------------------------------------------------------------------------------------------
    @nextcord.slash_command(name="rank", description="Show a member's level card.", contexts=GUILD_ONLY)
    async def rank(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member | None = nextcord.SlashOption(
            description="Whose rank (default: yours)", required=False, default=None
        ),
    ) -> None:
        target = member or interaction.user
        if interaction.guild_id is None or target is None:
            await interaction.response.send_message("Ranks exist inside a server only.", ephemeral=True)
            return
        if target.bot:
            await interaction.response.send_message("Bots do not earn XP.", ephemeral=True)
            return
        await interaction.response.defer()
        total, position = await self.service.rank(interaction.guild_id, target.id)
        level, into, needed = progress(total)
        avatar = await fetch_avatar(target)
        png = await anyio.to_thread.run_sync(
            render_rank_card, target.display_name, level, into, needed, position, total, avatar
        )
        await interaction.followup.send(file=nextcord.File(io.BytesIO(png), filename="rank.png"))

    @nextcord.slash_command(name="leaderboard", description="The server's members by XP.", contexts=GUILD_ONLY)
    async def leaderboard(
        self,
        interaction: nextcord.Interaction,
        page: int = nextcord.SlashOption(description="Page number", required=False, default=1, min_value=1),
    ) -> None:
        guild = interaction.guild
        if guild is None:
            await interaction.response.send_message("Leaderboards exist inside a server only.", ephemeral=True)
            return
        rows, pages = await self.service.leaderboard_page(guild.id, page, PER_PAGE)
        if page > pages:
            await interaction.response.send_message(f"There are only {pages} page(s).", ephemeral=True)
            return
        lines = leaderboard_lines([(r.user_id, r.xp) for r in rows], first_rank=(page - 1) * PER_PAGE + 1)
        embed = nextcord.Embed(title=f"Leaderboard · {guild.name}", description="\n".join(lines) or "No XP yet.")
        embed.set_footer(text=f"Page {page}/{pages}")
        await interaction.response.send_message(embed=embed)

    # --- /xp (admin) ----------------------------------------------------------------------------------------
    @nextcord.slash_command(
        name="xp", description="Change members' XP.", default_member_permissions=MANAGE_SERVER, contexts=GUILD_ONLY
    )
    async def xp(self, interaction: nextcord.Interaction) -> None:
        pass

    @xp.subcommand(name="give", description="Add XP to a member.")
    async def xp_give(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = nextcord.SlashOption(description="Who"),
        amount: int = nextcord.SlashOption(description="How much XP", min_value=1, max_value=MAX_ADMIN_XP),
    ) -> None:
        await self._admin_xp(interaction, member, "give", amount)

    @xp.subcommand(name="remove", description="Take XP from a member.")
    async def xp_remove(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = nextcord.SlashOption(description="Who"),
        amount: int = nextcord.SlashOption(description="How much XP", min_value=1, max_value=MAX_ADMIN_XP),
    ) -> None:
        await self._admin_xp(interaction, member, "remove", amount)

    @xp.subcommand(name="set", description="Set a member's total XP.")
    async def xp_set(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member = nextcord.SlashOption(description="Who"),
        amount: int = nextcord.SlashOption(description="Total XP", min_value=0, max_value=MAX_ADMIN_XP),
    ) -> None:
        await self._admin_xp(interaction, member, "set", amount)

    async def _admin_xp(self, interaction: nextcord.Interaction, member: nextcord.Member, op: AdminOp, n: int) -> None:
        if not await require_admin(interaction):
            return
        if member.bot:
            await interaction.response.send_message("Bots do not earn XP.", ephemeral=True)
            return
        guild_id = member.guild.id
        change = await self.service.admin_change(guild_id, member.id, op, n)
        settings = await self.service.store.get(guild_id)
        rewards = await self.service.store.rewards(guild_id)
        await sync_reward_roles(member, change.new_level, rewards, settings.reward_mode)
        await interaction.response.send_message(
            f"{member.mention} now has {change.new_total:,} XP (level {change.new_level}).", ephemeral=True
        )

    # --- /levels (admin) ------------------------------------------------------------------------------------
    @nextcord.slash_command(
        name="levels", description="Leveling setup.", default_member_permissions=MANAGE_SERVER, contexts=GUILD_ONLY
    )
    async def levels(self, interaction: nextcord.Interaction) -> None:
        pass

    @levels.subcommand(name="reward", description="Roles members get at a level.")
    async def reward(self, interaction: nextcord.Interaction) -> None:
        pass

    @reward.subcommand(name="add", description="Give a role at a level (replaces that level's reward).")
    async def reward_add(
        self,
        interaction: nextcord.Interaction,
        level: int = nextcord.SlashOption(description="Level", min_value=1, max_value=MAX_LEVEL),
        role: nextcord.Role = nextcord.SlashOption(description="Role to give"),
    ) -> None:
        if not await require_admin(interaction):
            return
        if not role.is_assignable():
            await interaction.response.send_message(
                f"I cannot give {role.mention}: it must be a normal role below my own highest role.", ephemeral=True
            )
            return
        await self.service.store.set_reward(role.guild.id, level, role.id)
        await interaction.response.send_message(f"Members reaching level {level} get {role.mention}.", ephemeral=True)

    @reward.subcommand(name="remove", description="Stop giving a role at a level.")
    async def reward_remove(
        self,
        interaction: nextcord.Interaction,
        level: int = nextcord.SlashOption(description="Level", min_value=1, max_value=MAX_LEVEL),
    ) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        removed = await self.service.store.remove_reward(interaction.guild_id, level)
        text = f"Level {level} no longer gives a role." if removed else f"Level {level} had no reward."
        await interaction.response.send_message(text, ephemeral=True)

    @reward.subcommand(name="list", description="Show the level rewards.")
    async def reward_list(self, interaction: nextcord.Interaction) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        rewards = await self.service.store.rewards(interaction.guild_id)
        settings = await self.service.store.get(interaction.guild_id)
        lines = rewards_lines(rewards) or ["No level rewards yet."]
        embed = nextcord.Embed(title=f"Level rewards ({settings.reward_mode} mode)", description="\n".join(lines))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @levels.subcommand(name="sync", description="Repair reward roles from stored XP.")
    async def sync(
        self,
        interaction: nextcord.Interaction,
        member: nextcord.Member | None = nextcord.SlashOption(
            description="Only this member (default: everyone with XP)", required=False, default=None
        ),
    ) -> None:
        guild = interaction.guild
        if not await require_admin(interaction) or guild is None:
            return
        await interaction.response.defer(ephemeral=True)
        settings = await self.service.store.get(guild.id)
        rewards = await self.service.store.rewards(guild.id)
        if member is not None:
            targets = [(member.id, await self.service.total(guild.id, member.id))]
        else:
            targets = await self.service.members_with_xp(guild.id)
        checked = added = removed = 0
        for user_id, total in targets:
            target = guild.get_member(user_id)
            if target is None:
                try:
                    target = await guild.fetch_member(user_id)
                except nextcord.NotFound:
                    continue  # left the server; their roles come back on rejoin
            got, lost = await sync_reward_roles(target, level_for_xp(total), rewards, settings.reward_mode)
            checked, added, removed = checked + 1, added + len(got), removed + len(lost)
        await interaction.followup.send(
            f"Checked {checked} member(s): {added} role(s) given, {removed} removed.", ephemeral=True
        )

    @levels.subcommand(name="config", description="Leveling settings.")
    async def config(self, interaction: nextcord.Interaction) -> None:
        pass

    @config.subcommand(name="show", description="Show the leveling settings.")
    async def config_show(self, interaction: nextcord.Interaction) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        settings = await self.service.store.get(interaction.guild_id)
        embed = nextcord.Embed(title="Leveling settings", description="\n".join(settings_lines(settings)))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @config.subcommand(name="announce", description="Where and how level-ups are announced.")
    async def config_announce(
        self,
        interaction: nextcord.Interaction,
        mode: str = nextcord.SlashOption(description="Where", choices=list(ANNOUNCE_MODES)),
        channel: nextcord.TextChannel | None = nextcord.SlashOption(
            description="The channel for mode 'channel'", required=False, default=None
        ),
        template: str | None = nextcord.SlashOption(
            description="Message; {user} and {level} are filled in", required=False, default=None, max_length=1000
        ),
    ) -> None:
        changes: dict[str, Any] = {"announce_mode": mode}
        if channel is not None:
            changes["announce_channel_id"] = channel.id
        if template is not None:
            changes["announce_template"] = template
        await self._configure(interaction, lambda s: dataclasses.replace(s, **changes))

    @config.subcommand(name="reward_mode", description="Keep every reward role (stack) or only the highest.")
    async def config_reward_mode(
        self,
        interaction: nextcord.Interaction,
        mode: str = nextcord.SlashOption(description="stack or replace", choices=list(REWARD_MODES)),
    ) -> None:
        await self._configure(interaction, lambda s: dataclasses.replace(s, reward_mode=mode))

    @config.subcommand(name="role_multiplier", description="XP multiplier for a role (leave value empty to remove).")
    async def config_role_multiplier(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role = nextcord.SlashOption(description="Role"),
        value: float | None = nextcord.SlashOption(
            description="e.g. 1.5; 0 gives no XP", required=False, default=None, min_value=0, max_value=10
        ),
    ) -> None:
        await self._configure(
            interaction, lambda s: dataclasses.replace(s, role_multipliers=_with(s.role_multipliers, role.id, value))
        )

    @config.subcommand(name="channel_multiplier", description="XP multiplier in a channel (empty value removes).")
    async def config_channel_multiplier(
        self,
        interaction: nextcord.Interaction,
        channel: nextcord.TextChannel = nextcord.SlashOption(description="Channel"),
        value: float | None = nextcord.SlashOption(
            description="e.g. 2; 0 gives no XP", required=False, default=None, min_value=0, max_value=10
        ),
    ) -> None:
        await self._configure(
            interaction,
            lambda s: dataclasses.replace(s, channel_multipliers=_with(s.channel_multipliers, channel.id, value)),
        )

    @config.subcommand(name="no_xp_channel", description="Turn XP off (or back on) in a channel.")
    async def config_no_xp_channel(
        self,
        interaction: nextcord.Interaction,
        channel: nextcord.TextChannel = nextcord.SlashOption(description="Channel"),
        no_xp: bool = nextcord.SlashOption(description="True: no XP there", default=True, required=False),
    ) -> None:
        await self._configure(
            interaction,
            lambda s: dataclasses.replace(s, no_xp_channel_ids=_toggle(s.no_xp_channel_ids, channel.id, no_xp)),
        )

    @config.subcommand(name="no_xp_role", description="Members with this role earn no XP (or again do).")
    async def config_no_xp_role(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role = nextcord.SlashOption(description="Role"),
        no_xp: bool = nextcord.SlashOption(description="True: no XP for this role", default=True, required=False),
    ) -> None:
        await self._configure(
            interaction, lambda s: dataclasses.replace(s, no_xp_role_ids=_toggle(s.no_xp_role_ids, role.id, no_xp))
        )

    @config.subcommand(name="keep_xp_on_leave", description="Keep a member's XP when they leave the server.")
    async def config_keep_xp(
        self,
        interaction: nextcord.Interaction,
        keep: bool = nextcord.SlashOption(description="False: delete XP when a member leaves"),
    ) -> None:
        await self._configure(interaction, lambda s: dataclasses.replace(s, keep_xp_on_leave=keep))

    async def _configure(
        self, interaction: nextcord.Interaction, change: Callable[[LevelingSettings], LevelingSettings]
    ) -> None:
        if not await require_admin(interaction) or interaction.guild_id is None:
            return
        try:
            settings = await self.service.store.update(interaction.guild_id, change)
        except LevelingSettingsError as exc:
            await interaction.response.send_message(f"Not saved: {exc.key} {exc.problem}.", ephemeral=True)
            return
        embed = nextcord.Embed(title="Leveling settings saved", description="\n".join(settings_lines(settings)))
        await interaction.response.send_message(embed=embed, ephemeral=True)


def _with(values: Any, key: int, value: float | None) -> dict[int, float]:
    out = dict(values)
    if value is None:
        out.pop(key, None)
    else:
        out[key] = value
    return out


def _toggle(values: frozenset[int], item: int, present: bool) -> frozenset[int]:
    return values | {item} if present else values - {item}
