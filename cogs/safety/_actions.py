"""The Discord side effects of a safety verdict. Each call stands alone: a 403 (missing permission, hierarchy) or
404 (already gone) is logged and returned as one short line, so the report still says what happened."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import nextcord

if TYPE_CHECKING:
    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

AUDIT_REASON_MAX = 512  # Discord's X-Audit-Log-Reason limit


def _error(exc: nextcord.HTTPException) -> str:
    return f"{exc.status} {exc.text or type(exc).__name__}".strip()[:120]


async def delete_message(bot: StewardBot, channel_id: int, message_id: int, reason: str) -> str | None:
    """Delete one message; None on success (or when it is already gone), else an error line."""
    try:
        await bot.http.delete_message(channel_id, message_id, reason=reason[:AUDIT_REASON_MAX])
    except nextcord.NotFound:
        log.info("safety: message %s in channel %s was already deleted", message_id, channel_id)
    except nextcord.HTTPException as exc:
        log.warning("safety: could not delete message %s in channel %s: %s", message_id, channel_id, _error(exc))
        return f"delete: {_error(exc)}"
    return None


async def time_out(bot: StewardBot, guild_id: int, user_id: int, seconds: int, reason: str) -> str | None:
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    try:
        await bot.http.edit_member(
            guild_id, user_id, reason=reason[:AUDIT_REASON_MAX], communication_disabled_until=until.isoformat()
        )
    except nextcord.HTTPException as exc:
        log.warning("safety: could not time out member %s in guild %s: %s", user_id, guild_id, _error(exc))
        return f"timeout: {_error(exc)}"
    return None


async def send_report(bot: StewardBot, channel_id: int, embed: nextcord.Embed) -> bool:
    channel = bot.get_channel(channel_id)
    if not isinstance(channel, nextcord.abc.Messageable):
        log.warning("safety: audit channel %s is gone or not a text channel", channel_id)
        return False
    try:
        await channel.send(embed=embed, allowed_mentions=nextcord.AllowedMentions.none())
    except nextcord.HTTPException as exc:
        log.warning("safety: could not post to audit channel %s: %s", channel_id, _error(exc))
        return False
    return True
