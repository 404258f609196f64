"""Leveling listeners: the message stage that awards XP, and member join/leave (rewards back, XP kept or purged)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.leveling import LevelChange, level_for_xp
from cogs.leveling._discord import announce_level_up, sync_reward_roles
from cogs.leveling._service import LevelingService, MessageInfo

if TYPE_CHECKING:
    from bot.gateway import MessageContext, StewardBot

log = logging.getLogger(__name__)


class LevelingEvents(commands.Cog):
    def __init__(self, bot: StewardBot, service: LevelingService) -> None:
        self.bot = bot
        self.service = service

    async def message_stage(self, message: nextcord.Message, ctx: MessageContext) -> None:
        """Runs after anti-spam on every message: quick dictionary work, I/O only on a cache miss or level-up."""
        author = message.author
        if message.guild is None or author.bot or not isinstance(author, nextcord.Member):
            return
        # A simulated clock, when a test installed one, drives the cooldown.
        clock = self.bot.services.extras.get("clock")
        if clock is not None:
            self.service.clock = clock
        info = MessageInfo(
            guild_id=message.guild.id,
            user_id=author.id,
            channel_id=message.channel.id,
            role_ids=[role.id for role in author.roles],
            content=message.content,
            is_spam=ctx.is_spam,
        )
        change = await self.service.on_message(info)
        if change is not None and change.leveled_up:
            self.bot.background(self.on_level_up, author, change, message.channel)

    async def on_level_up(
        self, member: nextcord.Member, change: LevelChange, channel: nextcord.abc.Messageable | None
    ) -> None:
        """One announcement for the level finally reached (several levels at once make one message), then roles."""
        guild_id = member.guild.id
        settings = await self.service.store.get(guild_id)
        await announce_level_up(member, change.new_level, settings, channel)
        rewards = await self.service.store.rewards(guild_id)
        await sync_reward_roles(member, change.new_level, rewards, settings.reward_mode)

    @commands.Cog.listener()
    async def on_member_join(self, member: nextcord.Member) -> None:
        """A returning member gets their reward roles back (when the guild kept their XP)."""
        if member.bot:
            return
        rewards = await self.service.store.rewards(member.guild.id)
        if not rewards:
            return
        total = await self.service.total(member.guild.id, member.id)
        if total <= 0:
            return
        settings = await self.service.store.get(member.guild.id)
        await sync_reward_roles(member, level_for_xp(total), rewards, settings.reward_mode)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: nextcord.RawMemberRemoveEvent) -> None:
        # The raw event: on_member_remove only fires for members in the cache, and members are not chunked.
        if payload.user.bot:
            return
        settings = await self.service.store.get(payload.guild_id)
        if not settings.keep_xp_on_leave:
            await self.service.purge_member(payload.guild_id, payload.user.id)
            log.info("guild %s: purged the XP of %s, who left", payload.guild_id, payload.user.id)
