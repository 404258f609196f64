"""Text for leveling replies (pure: testable without Discord)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.leveling import LevelingSettings, level_for_xp

PER_PAGE = 10


def leaderboard_lines(rows: Iterable[tuple[int, int]], first_rank: int) -> list[str]:
    """One line per (user_id, total XP), numbered from `first_rank`; mentions render as names inside embeds."""
    return [
        f"**#{rank}** <@{user_id}> · level {level_for_xp(xp)} · {xp:,} XP"
        for rank, (user_id, xp) in enumerate(rows, start=first_rank)
    ]


def rewards_lines(rewards: Mapping[int, int]) -> list[str]:
    return [f"Level {level}: <@&{role_id}>" for level, role_id in sorted(rewards.items())]


def settings_lines(settings: LevelingSettings) -> list[str]:
    def ids(values: Iterable[int], prefix: str) -> str:
        shown = ", ".join(f"<{prefix}{v}>" for v in sorted(values))
        return shown or "none"

    def multipliers(values: Mapping[int, float], prefix: str) -> str:
        shown = ", ".join(f"<{prefix}{k}> ×{v:g}" for k, v in sorted(values.items()))
        return shown or "none"

    channel = f"<#{settings.announce_channel_id}>" if settings.announce_channel_id else "none"
    return [
        f"Announcements: {settings.announce_mode} (channel: {channel})",
        f"Template: {settings.announce_template}",
        f"Reward mode: {settings.reward_mode}",
        f"XP per message: {settings.xp_min}–{settings.xp_max}, cooldown {settings.cooldown_seconds:g} s",
        f"Role multipliers: {multipliers(settings.role_multipliers, '@&')}",
        f"Channel multipliers: {multipliers(settings.channel_multipliers, '#')}",
        f"No-XP channels: {ids(settings.no_xp_channel_ids, '#')}",
        f"No-XP roles: {ids(settings.no_xp_role_ids, '@&')}",
        f"Keep XP when a member leaves: {'yes' if settings.keep_xp_on_leave else 'no'}",
    ]
