"""The Discord side effects of a verdict: deletions, warn/timeout/kick/ban, the mod-log embed.

Each call stands alone: a 403 (missing permission, role hierarchy) or a 404 (already deleted, member left) is
logged and reported back as False so the caller records it and carries on with the rest. Calls go through
`bot.http` with ids, so they work for raid participants and channels that are not in the cache.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import nextcord

from bot.antispam import MessageRef, Punishment
from cogs.antispam._logic import group_deletions

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

WARN_DELETE_AFTER = 8.0  # seconds the warning stays up
AUDIT_REASON_MAX = 512  # Discord's X-Audit-Log-Reason limit


def _error(exc: nextcord.HTTPException) -> str:
    return f"{exc.status} {exc.text or type(exc).__name__}".strip()


async def delete_messages(bot: StewardBot, refs: tuple[MessageRef, ...], reason: str) -> int:
    """Delete every ref, one bulk call per channel where there are several; returns how many went."""
    deleted = 0
    reason = reason[:AUDIT_REASON_MAX]
    for channel_id, batches in group_deletions(refs).items():
        for batch in batches:
            if len(batch) > 1:
                try:
                    await bot.http.delete_messages(channel_id, batch, reason=reason)
                    deleted += len(batch)
                    continue
                except nextcord.HTTPException as exc:
                    # e.g. one id already gone or too old: fall back to one call each so the rest still go.
                    log.warning(
                        "bulk delete of %d in channel %s failed (%s); deleting one by one",
                        len(batch),
                        channel_id,
                        _error(exc),
                    )
            for message_id in batch:
                try:
                    await bot.http.delete_message(channel_id, message_id, reason=reason)
                    deleted += 1
                except nextcord.NotFound:
                    log.info("message %s in channel %s was already deleted", message_id, channel_id)
                except nextcord.HTTPException as exc:
                    log.warning("could not delete message %s in channel %s: %s", message_id, channel_id, _error(exc))
    return deleted


async def punish(bot: StewardBot, guild_id: int, user_id: int, punishment: Punishment, reason: str) -> str | None:
    """Apply one rung of the ladder (warn is handled by `send_warning`); returns an error line or None."""
    reason = reason[:AUDIT_REASON_MAX]
    try:
        if punishment.kind == "timeout":
            until = datetime.now(UTC) + timedelta(seconds=punishment.seconds)
            await bot.http.edit_member(guild_id, user_id, reason=reason, communication_disabled_until=until.isoformat())
        elif punishment.kind == "kick":
            await bot.http.kick(user_id, guild_id, reason=reason)
        elif punishment.kind == "ban":
            await bot.http.ban(user_id, guild_id, 86400, reason=reason)  # also clears their last day of spam
    except nextcord.HTTPException as exc:
        log.warning("guild %s: could not %s member %s: %s", guild_id, punishment, user_id, _error(exc))
        return _error(exc)
    return None


async def send_warning(bot: StewardBot, channel_id: int, user_ids: list[int], text: str) -> nextcord.Message | str:
    """Post one warning that pings exactly these members (several for a raid); returns the message, or an error."""
    channel = bot.get_partial_messageable(channel_id)
    try:
        return await channel.send(
            f"{' '.join(f'<@{u}>' for u in user_ids)} {text}",
            allowed_mentions=nextcord.AllowedMentions(
                everyone=False, roles=False, users=[nextcord.Object(u) for u in user_ids]
            ),
        )
    except nextcord.HTTPException as exc:
        log.warning("could not warn member(s) %s in channel %s: %s", user_ids, channel_id, _error(exc))
        return _error(exc)


async def delete_later(message: nextcord.Message, delay: float = WARN_DELETE_AFTER) -> None:
    await anyio.sleep(delay)
    try:
        await message.delete()
    except nextcord.HTTPException as exc:
        log.info("the warning %s was not deleted: %s", message.id, _error(exc))


async def post_modlog(bot: StewardBot, channel_id: int, embed: nextcord.Embed) -> None:
    try:
        await bot.get_partial_messageable(channel_id).send(
            embed=embed, allowed_mentions=nextcord.AllowedMentions.none()
        )
    except nextcord.HTTPException as exc:
        log.warning("could not post to the mod-log channel %s: %s", channel_id, _error(exc))
