"""Community-event listeners: welcome message and auto-role on join, deleted messages to the audit channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from cogs.events._render import DeletedMessage, audit_fields, render_welcome
from cogs.events.settings import EventsStore

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

AUDIT_COLOUR = 0xED4245
EMBEDS_PER_MESSAGE = 10  # Discord's limit


def deleted_from_cache(message: nextcord.Message) -> DeletedMessage:
    return DeletedMessage(
        message_id=message.id,
        channel_id=message.channel.id,
        author_id=message.author.id,
        author_name=str(message.author),
        content=message.content,
        attachment_names=tuple(a.filename for a in message.attachments),
    )


def audit_embed(deleted: DeletedMessage) -> nextcord.Embed:
    description, fields = audit_fields(deleted)
    embed = nextcord.Embed(
        title="Message deleted", description=description, colour=AUDIT_COLOUR, timestamp=datetime.now(UTC)
    )
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=name in ("Author", "Channel"))
    return embed


class CommunityEvents(commands.Cog):
    def __init__(self, bot: StewardBot, store: EventsStore) -> None:
        self.bot = bot
        self.store = store

    @commands.Cog.listener()
    async def on_member_join(self, member: nextcord.Member) -> None:
        settings = await self.store.get(member.guild.id)
        if settings.welcome_channel_id is not None:
            await self._welcome(member, settings.welcome_channel_id, settings.welcome_template)
        if settings.autorole_id is not None and not member.bot:
            await self._autorole(member, settings.autorole_id)

    async def _welcome(self, member: nextcord.Member, channel_id: int, template: str) -> None:
        channel = member.guild.get_channel(channel_id)
        if not isinstance(channel, nextcord.abc.Messageable):
            log.warning("guild %s: welcome channel %s is gone", member.guild.id, channel_id)
            return
        text = render_welcome(template, member.mention, member.guild.name, member.guild.member_count)
        # The welcome pings the newcomer and nobody else, whatever the admin wrote in the template.
        allowed = nextcord.AllowedMentions(everyone=False, roles=False, users=[member], replied_user=False)
        try:
            await channel.send(text, allowed_mentions=allowed)
        except nextcord.HTTPException as exc:
            log.warning("guild %s: cannot post the welcome: %s", member.guild.id, exc)

    async def _autorole(self, member: nextcord.Member, role_id: int) -> None:
        role = member.guild.get_role(role_id)
        if role is None:
            log.warning("guild %s: auto-role %s is gone", member.guild.id, role_id)
            return
        try:
            await member.add_roles(role, reason="Steward: auto-role on join")
        except nextcord.HTTPException as exc:
            log.warning("guild %s: cannot give auto-role %s: %s", member.guild.id, role_id, exc)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: nextcord.RawMessageDeleteEvent) -> None:
        # The raw event also fires for messages the cache no longer holds (logged as "content unknown").
        if payload.guild_id is None:
            return
        cached = payload.cached_message
        if cached is not None and self._is_own(cached):
            return
        deleted = (
            deleted_from_cache(cached)
            if cached is not None
            else DeletedMessage(payload.message_id, payload.channel_id, None, None, None)
        )
        await self._post_audit(payload.guild_id, payload.channel_id, [deleted])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: nextcord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        deleted = [deleted_from_cache(m) for m in payload.cached_messages if not self._is_own(m)]
        cached_ids = {m.id for m in payload.cached_messages}
        deleted += [
            DeletedMessage(mid, payload.channel_id, None, None, None)
            for mid in sorted(payload.message_ids)
            if mid not in cached_ids
        ]
        await self._post_audit(payload.guild_id, payload.channel_id, deleted)

    def _is_own(self, message: nextcord.Message) -> bool:
        # The bot's own messages (audit entries included) are not audited: no loops, no noise.
        return self.bot.user is not None and message.author.id == self.bot.user.id

    async def _post_audit(self, guild_id: int, channel_id: int, deleted: list[DeletedMessage]) -> None:
        if not deleted:
            return
        settings = await self.store.get(guild_id)
        if settings.audit_channel_id is None or settings.audit_channel_id == channel_id:
            return
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(settings.audit_channel_id) if guild else None
        if not isinstance(channel, nextcord.abc.Messageable):
            log.warning("guild %s: audit channel %s is gone", guild_id, settings.audit_channel_id)
            return
        embeds = [audit_embed(d) for d in deleted]
        try:
            for start in range(0, len(embeds), EMBEDS_PER_MESSAGE):
                await channel.send(
                    embeds=embeds[start : start + EMBEDS_PER_MESSAGE], allowed_mentions=nextcord.AllowedMentions.none()
                )
        except nextcord.HTTPException as exc:
            log.warning("guild %s: cannot post to the audit channel: %s", guild_id, exc)
