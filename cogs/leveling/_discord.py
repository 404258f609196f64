"""The nextcord side of leveling: announcing level-ups, granting reward roles, fetching avatars for /rank."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio
import nextcord

from bot.leveling import LevelingSettings, render_template, rewards_for_level

log = logging.getLogger(__name__)

AVATAR_TIMEOUT = 2.0  # seconds; past this /rank draws the placeholder instead of waiting on the CDN
REASON = "Steward leveling: level reward"


def ping_only(member: nextcord.abc.Snowflake) -> nextcord.AllowedMentions:
    """Mentions that notify exactly this member: never @everyone, roles or anyone an admin template names."""
    return nextcord.AllowedMentions(everyone=False, roles=False, users=[member], replied_user=False)


async def announce_level_up(
    member: nextcord.Member,
    level: int,
    settings: LevelingSettings,
    source_channel: nextcord.abc.Messageable | None,
) -> nextcord.Message | None:
    """Post the level-up message where the guild wants it; a failure (DMs closed, channel gone) is logged only."""
    if settings.announce_mode == "off":
        return None
    text = render_template(settings.announce_template, member.mention, level)
    target: nextcord.abc.Messageable | None
    if settings.announce_mode == "dm":
        target = member
    elif settings.announce_mode == "channel" and settings.announce_channel_id is not None:
        channel = member.guild.get_channel(settings.announce_channel_id)
        target = channel if isinstance(channel, nextcord.abc.Messageable) else None
    else:
        target = source_channel
    if target is None:
        log.warning("guild %s: level-up announcement channel is missing", member.guild.id)
        return None
    try:
        return await target.send(text, allowed_mentions=ping_only(member))
    except nextcord.HTTPException as exc:
        log.warning("guild %s: could not announce level %d for %s: %s", member.guild.id, level, member.id, exc)
        return None


async def sync_reward_roles(
    member: nextcord.Member, level: int, rewards: Mapping[int, int], mode: str
) -> tuple[list[int], list[int]]:
    """Give and take reward roles so the member holds what `level` earns; (added ids, removed ids).

    Roles deleted from the guild are skipped; a role the bot may not manage (above its own) is logged and skipped
    so one misconfigured reward does not block the others.
    """
    if not rewards:
        return [], []
    add, remove = rewards_for_level(rewards, level, mode, held=[r.id for r in member.roles])
    added: list[int] = []
    removed: list[int] = []
    for role_ids, action, done in ((add, member.add_roles, added), (remove, member.remove_roles, removed)):
        for role_id in sorted(role_ids):
            role = member.guild.get_role(role_id)
            if role is None:
                continue
            try:
                await action(role, reason=REASON)
                done.append(role_id)
            except nextcord.HTTPException as exc:
                log.warning(
                    "guild %s: cannot change reward role %s on %s: %s", member.guild.id, role_id, member.id, exc
                )
    return added, removed


async def fetch_avatar(member: nextcord.Member | nextcord.User) -> bytes | None:
    """The member's own avatar as PNG bytes, or None (no custom avatar, CDN slow or unreachable)."""
    asset = getattr(member, "guild_avatar", None) or member.avatar
    if asset is None:
        return None  # the default avatar carries nothing personal; the card's placeholder is nicer
    try:
        with anyio.fail_after(AVATAR_TIMEOUT):
            return await asset.with_size(256).with_static_format("png").read()
    except Exception as exc:  # timeout, HTTP error, no network: the card still renders
        log.debug("avatar fetch for %s failed: %s", member.id, exc)
        return None
